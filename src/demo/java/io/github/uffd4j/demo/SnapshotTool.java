package io.github.uffd4j.demo;

import io.github.uffd4j.snapshot.SnapshotChain;
import io.github.uffd4j.snapshot.SnapshotException;
import io.github.uffd4j.snapshot.SnapshotFile;
import io.github.uffd4j.source.Compression;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * scripts/snapshot: inspects, verifies and compacts snapshot files ({@link SnapshotFile},
 * {@link SnapshotChain}). A chain may be given in any order: its links are put in order by their
 * parent ids.
 */
@Command(name = "scripts/snapshot", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class,
        subcommands = {SnapshotTool.Inspect.class, SnapshotTool.Verify.class, SnapshotTool.Compact.class},
        description = {"Inspects, verifies and compacts uffd4j snapshot files (.u4s: LiveSnapshots, TrackedSnapshots)."})
public final class SnapshotTool implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args));
    }

    /** Runs the tool; a bad or damaged snapshot is one line on {@code err} and exit code 1. */
    static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new SnapshotTool()).setOut(out).setErr(err);
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            if (e instanceof SnapshotException || e instanceof IOException) {
                line.getErr().println("scripts/snapshot: " + e.getMessage());
                return 1;
            }
            throw e;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() {
        throw new CommandLine.ParameterException(spec.commandLine(), "say what to do: inspect, verify or compact");
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class,
            description = {"Prints what each file's header and index say (both checked; pages are not read: see verify),",
                    "and how the files link into a chain."})
    static final class Inspect implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "FILE", description = "Snapshot files.")
        List<Path> files;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = spec.commandLine().getOut();
            List<SnapshotFile.Info> infos = describe(files);
            for (SnapshotFile.Info i : infos) {
                long pages = i.memorySize() / i.pageSize();
                out.printf("%s%n  %s, id %016x%s%n  memory %s in %d pages of %s; %d stored (%.1f%%), file %s%s%n", i.path(),
                        i.increment() ? "increment" : "full snapshot", i.id(),
                        i.increment() ? String.format(", parent %016x", i.parentId()) : "", PagingDemo.bytes(i.memorySize()), pages,
                        PagingDemo.bytes(i.pageSize()), i.pagesStored(), 100.0 * i.pagesStored() / pages, PagingDemo.bytes(i.fileSize()),
                        i.compression() == Compression.NONE ? "" : ", pages compressed with " + i.compression());
            }
            if (infos.size() > 1) {
                out.println("chain: " + String.join(" -> ", order(infos).stream().map(i -> i.path().toString()).toList()));
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class,
            description = {"Reads every stored page and checks it against its checksum: a full snapshot, or a chain",
                    "(a full snapshot and its increments, in any order). Exit code 0 when all is whole, 1 if not."})
    static final class Verify implements Callable<Integer> {
        @Parameters(arity = "1..*", paramLabel = "FILE", description = "A snapshot, or the files of a chain.")
        List<Path> files;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            List<SnapshotFile.Info> links = order(describe(files));
            List<Path> chain = links.stream().map(SnapshotFile.Info::path).toList();
            long t0 = System.nanoTime();
            try (SnapshotChain c = SnapshotChain.open(chain)) {
                c.verify();
            }
            long stored = links.stream().mapToLong(SnapshotFile.Info::pagesStored).sum();
            spec.commandLine().getOut().printf("ok: %d file%s, %d pages checked in %.0f ms%n", chain.size(),
                    chain.size() == 1 ? "" : "s", stored, (System.nanoTime() - t0) / 1e6);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "compact", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class,
            description = {"Writes a chain (a full snapshot and its increments, in any order) as one full snapshot:",
                    "the memory at the newest increment, every page checked as it is read."})
    static final class Compact implements Callable<Integer> {
        @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE",
                description = "The full snapshot to write (written under a temporary name, synced, renamed).")
        Path output;

        @Option(names = "--compression", paramLabel = "ALGORITHM", defaultValue = "none",
                converter = CompressionConverter.class,
                description = {"zstd, lz4 or none (default): each page compressed on its own, so a lazy restore",
                        "still reads only the pages touched. zstd and lz4 need io.airlift:aircompressor-v3."})
        Compression compression;

        @Parameters(arity = "1..*", paramLabel = "FILE", description = "The files of the chain.")
        List<Path> files;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws IOException {
            List<Path> chain = chainOf(files);
            if (chain.stream().anyMatch(p -> p.toAbsolutePath().normalize().equals(output.toAbsolutePath().normalize()))) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--output " + output + " is a link of the chain");
            }
            long t0 = System.nanoTime();
            try (SnapshotChain c = SnapshotChain.open(chain)) {
                c.compact(output, compression);
            }
            SnapshotFile.Info i = SnapshotFile.describe(output);
            spec.commandLine().getOut().printf("%s: full snapshot of %d files, %d pages stored, %s%s, in %.0f ms%n", output,
                    chain.size(), i.pagesStored(), PagingDemo.bytes(i.fileSize()),
                    compression == Compression.NONE ? "" : String.format(" (%s, %.2fx)", compression,
                            (double) i.pagesStored() * i.pageSize() / Math.max(1, i.fileSize())),
                    (System.nanoTime() - t0) / 1e6);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    /** What each file's header and index say, checked. */
    static List<SnapshotFile.Info> describe(List<Path> files) throws IOException {
        List<SnapshotFile.Info> infos = new ArrayList<>();
        for (Path f : files) {
            infos.add(SnapshotFile.describe(f));
        }
        return infos;
    }

    /** The files as a chain, base first. */
    static List<Path> chainOf(List<Path> files) throws IOException {
        return order(describe(files)).stream().map(SnapshotFile.Info::path).toList();
    }

    /** Puts snapshots in chain order by their parent ids: one full snapshot, each increment after its parent. */
    static List<SnapshotFile.Info> order(List<SnapshotFile.Info> infos) throws SnapshotException {
        List<SnapshotFile.Info> full = infos.stream().filter(i -> !i.increment()).toList();
        if (full.size() != 1) {
            throw new SnapshotException(full.isEmpty() ? "no full snapshot among the files: a chain starts with one"
                    : "more than one full snapshot (" + String.join(", ", full.stream().map(i -> i.path().toString()).toList())
                    + "): a chain has one");
        }
        Map<Long, SnapshotFile.Info> byParent = new HashMap<>();
        for (SnapshotFile.Info i : infos) {
            if (i.increment()) {
                SnapshotFile.Info other = byParent.put(i.parentId(), i);
                if (other != null) {
                    throw new SnapshotException(i.path() + " and " + other.path() + " are both increments of "
                            + String.format("%016x", i.parentId()) + ": not one chain");
                }
            }
        }
        List<SnapshotFile.Info> chain = new ArrayList<>(List.of(full.getFirst()));
        for (SnapshotFile.Info next; (next = byParent.remove(chain.getLast().id())) != null; ) {
            chain.add(next);
        }
        if (!byParent.isEmpty()) {
            SnapshotFile.Info lost = byParent.values().iterator().next();
            throw new SnapshotException(lost.path() + ": an increment of " + String.format("%016x", lost.parentId())
                    + ", which is not in the chain from " + full.getFirst().path() + ": a link is missing");
        }
        return chain;
    }
}
