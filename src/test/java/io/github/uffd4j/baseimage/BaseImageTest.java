package io.github.uffd4j.baseimage;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * uffd4j in a runtime image of {@code java.base} alone, built here with jlink: the module starts
 * without jdk.jfr (it requires it statically) and serves faults, reports a failure and takes a
 * snapshot, the paths that make JFR events when a recorder runs.
 */
class BaseImageTest {

    @TempDir
    Path dir;

    @Test
    void aJavaBaseOnlyImageRunsTheLibrary() throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED); // the probe's live snapshot
        Path jlink = Path.of(System.getProperty("java.home"), "bin", "jlink");
        Assumptions.assumeTrue(Files.isExecutable(jlink), "no jlink in " + System.getProperty("java.home") + " (a JRE, not a JDK)");
        Path image = dir.resolve("image");
        ChildJvm.Result linked = ChildJvm.run(List.of(jlink.toString(), "--add-modules", "java.base", "--output", image.toString()),
                Duration.ofMinutes(2));
        if (!linked.ok()) {
            System.out.println("SKIPPED: jlink could not link java.base here (no jmods, and a runtime that cannot be linked"
                    + " from): " + linked.describe());
        }
        Assumptions.assumeTrue(linked.ok(), "jlink cannot link java.base from this JDK");

        String classes = null;
        String testClasses = null;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p.resolve("module-info.class"))) {
                classes = entry;
            } else if (Files.isRegularFile(p.resolve(BaseImageProbe.class.getName().replace('.', '/') + ".class"))) {
                testClasses = entry;
            }
        }
        assertTrue(classes != null && testClasses != null, "target/classes and target/test-classes on the class path");
        // the warnings of the failing source on purpose: without java.logging they would go to the console
        List<String> cmd = new ArrayList<>(List.of(image.resolve("bin/java").toString(), "--enable-native-access=io.github.uffd4j",
                "-Djdk.system.logger.level=ERROR",
                "-p", classes, "--add-modules", "io.github.uffd4j", "-cp", testClasses, BaseImageProbe.class.getName()));
        ChildJvm.Result r = ChildJvm.run(cmd, Duration.ofMinutes(2));
        System.out.println("in a java.base-only image: " + r.summary());
        assertTrue(r.ok(), r::describe);
        assertTrue(r.output().contains("jdk.jfr present: false"), r::describe);
        assertTrue(r.output().contains("uffd4j is module io.github.uffd4j"), r::describe);
        assertTrue(r.output().contains("LAZY OK 1024 pages"), r::describe);
        assertTrue(r.output().matches("(?s).*FAILURE OK 0 after [1-9][0-9]* reported.*"), r::describe);
        assertTrue(r.output().contains("SNAPSHOT OK"), r::describe);
        assertTrue(r.output().contains("ALL OK"), r::describe);
    }
}
