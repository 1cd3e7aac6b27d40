package io.github.uffd4j;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Userfaultfd#isAvailable()}, {@link Userfaultfd#unavailabilityCause()},
 * {@link Userfaultfd#ensureAvailability()} and {@link Userfaultfd#isSupported(Feature)}: here, where
 * userfaultfd works, and in child JVMs where it cannot (no native access on the class path and on
 * the module path, native access denied, an unprivileged user). The children run {@link #PROBE}, a
 * program of its own that sees only the library (target/classes), as a user's program would.
 */
class AvailabilityTest {

    /** Prints each answer of the availability API as {@code key=value} lines. */
    private static final String PROBE = """
            import io.github.uffd4j.CreationPath;
            import io.github.uffd4j.Feature;
            import io.github.uffd4j.Userfaultfd;
            import java.util.ArrayList;
            import java.util.List;

            public class Probe {
                public static void main(String[] args) {
                    System.out.println("available=" + Userfaultfd.isAvailable());
                    Throwable cause = Userfaultfd.unavailabilityCause();
                    System.out.println("causeType=" + (cause == null ? "null" : cause.getClass().getName()));
                    System.out.println("cause=" + (cause == null ? "null" : cause.getMessage()));
                    for (CreationPath p : CreationPath.values()) {
                        System.out.println("path." + p + "=" + Userfaultfd.isAvailable(p));
                    }
                    List<Feature> supported = new ArrayList<>();
                    for (Feature f : Feature.values()) {
                        if (Userfaultfd.isSupported(f)) {
                            supported.add(f);
                        }
                    }
                    System.out.println("supported=" + supported);
                    try {
                        Userfaultfd.ensureAvailability();
                        System.out.println("ensure=ok");
                    } catch (RuntimeException e) {
                        System.out.println("ensure=" + e.getClass().getName() + " cause " + e.getCause().getClass().getName()
                                + ": " + e.getMessage());
                    }
                    try {
                        System.out.println("kernelFeatures=" + Userfaultfd.kernelFeatures());
                    } catch (RuntimeException e) {
                        System.out.println("kernelFeatures=" + e.getClass().getName());
                    }
                }
            }
            """;

    private static Path probeDir;
    private static Path probe;

    @BeforeAll
    static void writeProbe() throws IOException {
        // readable by every user: one child runs as nobody
        probeDir = Files.createTempDirectory("uffd4j-availability-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        probe = Files.writeString(probeDir.resolve("Probe.java"), PROBE);
        Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rw-r--r--"));
    }

    @AfterAll
    static void deleteProbe() throws IOException {
        Files.deleteIfExists(probe);
        Files.deleteIfExists(probeDir);
    }

    @Test
    void availableHereWithNoCause() {
        assertTrue(Userfaultfd.isAvailable(), () -> "cause: " + Userfaultfd.unavailabilityCause());
        assertNull(Userfaultfd.unavailabilityCause());
        Userfaultfd.ensureAvailability();
        assertTrue(Userfaultfd.isSupported(Feature.PAGEFAULT_FLAG_WP), "every kernel with userfaultfd since 5.7 has it");
        for (Feature f : Feature.values()) {
            assertEquals(Userfaultfd.kernelFeatures().contains(f), Userfaultfd.isSupported(f), f.toString());
        }
    }

    /** Each path's answer is what opening by that path does. */
    @Test
    void perCreationPathAnswersMatchOpening() {
        for (CreationPath path : CreationPath.values()) {
            boolean opened;
            String why;
            try (Userfaultfd u = Userfaultfd.builder().creationPath(path).open()) {
                opened = true;
                why = "opened via " + u.creationPath();
            } catch (UffdException e) {
                opened = false;
                why = e.getMessage();
            }
            System.out.println(path + ": available " + Userfaultfd.isAvailable(path) + " (" + why + ")");
            assertEquals(opened, Userfaultfd.isAvailable(path), path + ": " + why);
            assertEquals(opened, Userfaultfd.unavailabilityCause(path) == null, path + ": " + why);
        }
        assertEquals(Userfaultfd.isAvailable(), Userfaultfd.isAvailable(CreationPath.AUTO));
    }

    @Test
    void withoutNativeAccessOnTheClassPathItSaysWhichFlagToAdd() throws Exception {
        // JDK 22-25 default: restricted methods would only warn, but uffd4j asks for the flag
        Map<String, String> out = runProbe(List.of("-cp", library()));
        assertUnavailableForNativeAccess(out);
        assertTrue(out.get("cause").contains("start java with --enable-native-access=ALL-UNNAMED"), out.get("cause"));
        assertTrue(out.get("cause").contains("'Enable-Native-Access: ALL-UNNAMED' in its manifest"), out.get("cause"));
    }

    @Test
    void deniedNativeAccessIsUnavailableWithTheFlagToAdd() throws Exception {
        Assumptions.assumeTrue(Runtime.version().feature() >= 24, "--illegal-native-access=deny exists from JDK 24");
        Map<String, String> out = runProbe(List.of("--illegal-native-access=deny", "-cp", library()));
        assertUnavailableForNativeAccess(out);
        assertTrue(out.get("cause").contains("--enable-native-access=ALL-UNNAMED"), out.get("cause"));
    }

    /** On the module path only the flag naming the module helps: no manifest entry is suggested. */
    @Test
    void withoutNativeAccessOnTheModulePathItNamesTheModule() throws Exception {
        Map<String, String> out = runProbe(List.of("--module-path", library(), "--add-modules", "io.github.uffd4j"));
        assertUnavailableForNativeAccess(out);
        assertTrue(out.get("cause").contains("start java with --enable-native-access=io.github.uffd4j "), out.get("cause"));
        assertFalse(out.get("cause").contains("ALL-UNNAMED"), out.get("cause"));
        assertFalse(out.get("cause").contains("manifest"), out.get("cause"));
    }

    /** Native access on, but the user may not create a userfaultfd: the cause is the kernel's refusal with the remedy. */
    @Test
    void unprivilegedUserGetsTheRefusalWithTheRemedy() throws Exception {
        TestSupport.assumeNobodyIsRefusedUserfaultfd();
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"));
        Map<String, String> out = runProbe(cmd, List.of("--enable-native-access=ALL-UNNAMED", "-cp", library()));
        assertEquals("false", out.get("available"), out.toString());
        assertEquals(UffdException.class.getName(), out.get("causeType"), out.toString());
        assertTrue(out.get("cause").contains("vm.unprivileged_userfaultfd is 0"), out.get("cause"));
        assertTrue(out.get("cause").contains("CAP_SYS_PTRACE"), out.get("cause"));
        assertTrue(out.get("cause").contains("/dev/userfaultfd: EACCES"), out.get("cause"));
        assertEquals("false", out.get("path.DEVICE"), out.toString());
        assertEquals("false", out.get("path.SYSCALL"), out.toString());
        assertEquals("[]", out.get("supported"), "isSupported is false when open() cannot work");
        assertTrue(out.get("ensure").startsWith("java.lang.UnsupportedOperationException cause " + UffdException.class.getName()),
                out.get("ensure"));
        // a user-mode-only descriptor is still allowed, and tells what the kernel has
        assertTrue(out.get("kernelFeatures").contains("PAGEFAULT_FLAG_WP"), out.get("kernelFeatures"));
    }

    private static void assertUnavailableForNativeAccess(Map<String, String> out) {
        assertEquals("false", out.get("available"), out.toString());
        assertEquals(UnsupportedOperationException.class.getName(), out.get("causeType"), out.toString());
        assertTrue(out.get("cause").contains("needs native access"), out.get("cause"));
        for (CreationPath p : CreationPath.values()) {
            assertEquals("false", out.get("path." + p), out.toString());
        }
        assertEquals("[]", out.get("supported"), "isSupported answers false without native access");
        assertTrue(out.get("ensure").startsWith("java.lang.UnsupportedOperationException cause java.lang.UnsupportedOperationException: "
                + "userfaultfd is not available in this JVM: uffd4j calls native code"), out.get("ensure"));
        assertEquals("java.lang.UnsupportedOperationException", out.get("kernelFeatures"), out.toString());
    }

    /** target/classes: the library alone. */
    private static String library() throws Exception {
        return Path.of(Userfaultfd.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    private static Map<String, String> runProbe(List<String> javaOptions) throws Exception {
        return runProbe(List.of(), javaOptions);
    }

    /** Runs the probe program under {@code wrapper} (empty, or e.g. setpriv) with {@code javaOptions}; its answers by key. */
    private static Map<String, String> runProbe(List<String> wrapper, List<String> javaOptions) throws Exception {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.add(ChildJvm.java());
        cmd.addAll(javaOptions);
        cmd.add(probe.toString());
        ChildJvm.Result r = ChildJvm.run(cmd, Duration.ofSeconds(60));
        assertTrue(r.ok(), r.describe());
        Map<String, String> answers = new HashMap<>();
        for (String line : r.output().split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0 && !line.startsWith("WARNING")) {
                answers.putIfAbsent(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        assertTrue(answers.keySet().containsAll(List.of("available", "cause", "supported", "ensure", "kernelFeatures")), r.describe());
        return answers;
    }
}
