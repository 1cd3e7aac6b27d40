package io.github.uffd4j.container;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.startupcheck.OneShotStartupCheckStrategy;
import org.testcontainers.images.builder.ImageFromDockerfile;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The kernel suite and the library's permission errors inside Linux containers (Testcontainers).
 * The image is built here from a local base image (scripts/container/base-image makes it with
 * debootstrap; UFFD4J_BASE_IMAGE names another) plus this JDK and the compiled classes. Run on
 * their own with {@code scripts/test -Dgroups=container}.
 */
@Tag("container")
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class ContainerTest {

    static final String BASE_IMAGE = System.getenv().getOrDefault("UFFD4J_BASE_IMAGE", "uffd4j-base:bookworm");
    private static final String RUN = "java --enable-native-access=ALL-UNNAMED -Xss1m -cp /opt/uffd4j/classes:/opt/uffd4j/test-classes:/opt/uffd4j/lib/*";
    private static ImageFromDockerfile image;
    private static volatile boolean built;

    @BeforeAll
    static void image() {
        boolean engine;
        try {
            engine = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException e) {
            engine = false;
        }
        if (!engine) {
            System.out.println("SKIPPED container tests: no Docker engine reachable; as root, scripts/container/engine starts one"
                    + " (installing docker.io if needed) and scripts/container/base-image makes the base image");
        }
        Assumptions.assumeTrue(engine, "no Docker engine reachable (scripts/container/engine starts one)");
        boolean base = DockerClientFactory.instance().client().listImagesCmd().withImageNameFilter(BASE_IMAGE).exec().size() > 0;
        if (!base) {
            System.out.println("SKIPPED container tests: no base image " + BASE_IMAGE + "; make it with scripts/container/base-image"
                    + " (debootstrap, no registry needed) or set UFFD4J_BASE_IMAGE");
        }
        Assumptions.assumeTrue(base, "no base image " + BASE_IMAGE);

        Path javaHome = Path.of(System.getProperty("java.home"));
        ImageFromDockerfile img = new ImageFromDockerfile("uffd4j-test", true)
                .withFileFromPath("jdk", javaHome)
                .withFileFromPath("classes", Path.of("target/classes"))
                .withFileFromPath("test-classes", Path.of("target/test-classes"))
                .withFileFromPath("native-headers", Path.of("native-headers"))
                // ReadmeExampleTest compiles the README's examples
                .withFileFromPath("README.md", Path.of("README.md"))
                // the benchmarks' smoke test builds the C reference
                .withFileFromPath("bench-c", Path.of("src/bench/c"))
                .withDockerfileFromBuilder(b -> b.from(BASE_IMAGE)
                        .copy("jdk", "/opt/jdk")
                        .copy("classes", "/opt/uffd4j/classes")
                        .copy("test-classes", "/opt/uffd4j/test-classes")
                        .copy("lib", "/opt/uffd4j/lib")
                        .copy("native-headers", "/opt/uffd4j/native-headers")
                        .copy("README.md", "/opt/uffd4j/README.md")
                        .copy("bench-c", "/opt/uffd4j/src/bench/c")
                        .env("PATH", "/opt/jdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
                        .workDir("/opt/uffd4j")
                        .build());
        for (String entry : testClassPath()) {
            Path p = Path.of(entry);
            if (entry.endsWith(".jar") && Files.isRegularFile(p)) {
                img = img.withFileFromPath("lib/" + p.getFileName(), p);
            }
        }
        image = img;
    }

    /** Removes the test image (without Ryuk nothing else would). */
    @AfterAll
    static void removeImage() {
        if (image == null || !built) {
            return;
        }
        try {
            String name = image.get();
            DockerClientFactory.instance().client().removeImageCmd(name).withForce(true).exec();
        } catch (RuntimeException e) {
            System.out.println("could not remove the test image: " + e);
        } finally {
            image = null;
        }
    }

    /** The jars of the test class path (surefire keeps the real one in surefire.test.class.path). */
    private static List<String> testClassPath() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return List.of(cp.split(File.pathSeparator));
    }

    /** Runs {@code command} in a new container set up by {@code setup}; returns its exit code and output. */
    private static Result run(String command, java.util.function.Consumer<GenericContainer<?>> setup, Duration timeout) {
        built = true;
        try (GenericContainer<?> c = new GenericContainer<>(image)) {
            c.withCommand("bash", "-c", command + " 2>&1; echo EXIT=$?")
                    .withStartupCheckStrategy(new OneShotStartupCheckStrategy().withTimeout(timeout));
            setup.accept(c);
            try {
                c.start();
            } catch (RuntimeException e) {
                fail("the container did not run to the end: " + e + "\n" + c.getLogs());
            }
            String logs = c.getLogs();
            int exit = -1;
            int at = logs.lastIndexOf("EXIT=");
            if (at >= 0) {
                exit = Integer.parseInt(logs.substring(at + 5).trim());
            }
            return new Result(exit, logs);
        }
    }

    record Result(int exit, String output) {
    }

    @Test
    void theKernelSuitePassesInAPrivilegedContainer() {
        Result r = run(RUN + " org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=tree"
                + " --select-package=io.github.uffd4j --exclude-tag=container"
                + " --config=junit.jupiter.execution.timeout.default=120s", c -> c.withPrivilegedMode(true), Duration.ofMinutes(12));
        // the inner results, for the outer report
        List<String> summary = new ArrayList<>();
        for (String line : r.output().split("\n")) {
            if (line.contains("tests ") || line.contains("containers ") || line.contains("✘") || line.contains("[X]")
                    || line.contains("SKIPPED") || line.contains("MethodSource")) {
                summary.add(line);
            }
        }
        System.out.println("inside the privileged container:\n" + String.join("\n", summary));
        // the failures first: a report cut short still names them
        assertEquals(0, r.exit(), () -> "the kernel suite failed inside the privileged container:\n"
                + String.join("\n", failures(r.output())) + "\n--- whole output:\n" + r.output());
        assertTrue(r.output().contains("tests successful"), r::output);
        assertTrue(r.output().matches("(?s).*\\b0 tests failed.*"), r::output);
    }

    /** The console launcher's lines for failed tests (its tree's ✘ marks), then the start of its "Failures" section. */
    private static List<String> failures(String output) {
        List<String> out = new ArrayList<>();
        String[] lines = output.split("\n");
        int section = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].contains("✘") || lines[i].contains("[X]")) {
                out.add(lines[i]);
            } else if (section < 0 && lines[i].startsWith("Failures (")) {
                section = i;
            }
        }
        for (int i = Math.max(section, 0); section >= 0 && i < lines.length && i < section + 60; i++) {
            out.add(lines[i]);
        }
        return out;
    }

    @Test
    void anUnprivilegedContainerGetsTheActionableError() {
        Result r = run(RUN + " io.github.uffd4j.container.ContainerProbe", c -> { }, Duration.ofMinutes(2));
        // the refusals it prints are what this test expects: they stay out of the log unless it fails
        System.out.println("inside an unprivileged container (default seccomp profile): exit " + r.exit());
        assertEquals(0, r.exit(), r::output);
        assertTrue(r.output().contains("AUTO refused:"), r::output);
        assertTrue(r.output().contains("SYSCALL refused: open userfaultfd (SYSCALL) failed: EPERM"), r::output);
        assertTrue(r.output().contains("DEVICE refused: open userfaultfd (DEVICE) failed: ENOENT"), r::output);
        assertTrue(r.output().contains("--device /dev/userfaultfd"), r::output);
        assertTrue(r.output().contains("EPERM"), r::output);
        assertTrue(r.output().contains("seccomp"), r::output);
        assertTrue(r.output().contains("--cap-add SYS_PTRACE"), r::output);
        assertTrue(r.output().contains("NOT SERVED"), r::output);
    }

    @Test
    void onlyTheDeviceIsEnoughWithoutPrivileges() {
        Result r = run(RUN + " io.github.uffd4j.container.ContainerProbe",
                c -> c.withCreateContainerCmdModifier(cmd -> cmd.getHostConfig().withDevices(
                        com.github.dockerjava.api.model.Device.parse("/dev/userfaultfd"))), Duration.ofMinutes(2));
        System.out.println("inside a container with only --device /dev/userfaultfd: exit " + r.exit() + ", "
                + r.output().lines().filter(l -> l.startsWith("SERVED")).findFirst().orElse("not served"));
        assertEquals(0, r.exit(), r::output);
        assertTrue(r.output().contains("DEVICE ok"), r::output);
        assertTrue(r.output().contains("SYSCALL refused"), r::output);
        assertTrue(r.output().contains("SERVED 7 7"), r::output);
    }
}
