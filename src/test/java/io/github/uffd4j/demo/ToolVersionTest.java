package io.github.uffd4j.demo;

import io.github.uffd4j.bench.Report;
import io.github.uffd4j.pager.PagerMain;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every tool answers {@code --version} with its name, uffd4j's version from the build, Java and the kernel. */
class ToolVersionTest {

    private static String version(Object command) {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(command).setOut(new PrintWriter(out, true));
        assertEquals(0, cl.execute("--version"));
        return out.toString();
    }

    @Test
    void everyToolPrintsItsVersion() {
        // surefire passes the pom's version; elsewhere (the container suite) the classes' own must be a real one
        String project = System.getProperty("uffd4j.version", io.github.uffd4j.Userfaultfd.libraryVersion());
        assertTrue(Character.isDigit(project.charAt(0)), "the build wrote the version into the classes: " + project);
        for (Object tool : new Object[] {new Demo(), new Pack(), new SnapshotTool(), new MigrateDemo(), new PagerMain(), new Report()}) {
            String v = version(tool);
            assertTrue(v.contains("(uffd4j " + project), tool.getClass().getSimpleName() + ": " + v);
            assertTrue(v.contains("Java " + Runtime.version()) && v.contains(System.getProperty("os.version")), v);
        }
        assertTrue(version(new Pack()).startsWith("scripts/pack (uffd4j "), version(new Pack()));
        assertEquals(project, io.github.uffd4j.Userfaultfd.libraryVersion());
    }
}
