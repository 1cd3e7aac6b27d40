package io.github.uffd4j.demo;

import io.github.uffd4j.Userfaultfd;
import picocli.CommandLine;

/** What {@code --version} prints for every tool under scripts/: the command, uffd4j's version, Java and the kernel. */
public final class ToolVersion implements CommandLine.IVersionProvider {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public String[] getVersion() {
        return lines(spec != null ? spec.qualifiedName(" ") : "uffd4j");
    }

    /** The two lines: the tool and uffd4j's version, then the Java runtime and the kernel. */
    public static String[] lines(String tool) {
        return new String[] {tool + " (uffd4j " + Userfaultfd.libraryVersion() + ")",
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + "), " + System.getProperty("os.name")
                    + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch")};
    }
}
