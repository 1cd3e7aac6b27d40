package io.github.uffd4j.demo;

import io.github.uffd4j.internal.Version;
import picocli.CommandLine;

/** What {@code --version} prints for every tool under scripts/: the command, uffd4j's version, Java and the kernel. */
public final class ToolVersion implements CommandLine.IVersionProvider {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public String[] getVersion() {
        return Version.lines(spec != null ? spec.qualifiedName(" ") : "uffd4j");
    }
}
