package io.github.uffd4j.demo;

import io.github.uffd4j.source.ChunkedSource;
import io.github.uffd4j.source.ChunkedWriter;
import io.github.uffd4j.source.Compression;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** scripts/pack: turns any file into a chunked dataset ({@link ChunkedWriter}), optionally verifying it. */
@Command(name = "scripts/pack", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class, sortOptions = false,
        description = {"Packs a file into uffd4j's chunked format (io.github.uffd4j.source.ChunkedSource): chunks compressed",
                "one by one, each with a CRC32C, an index, written under a temporary name then renamed."})
public final class Pack implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "INPUT", description = "The file to pack.")
    Path input;

    @Parameters(index = "1", paramLabel = "OUTPUT", description = "The chunked file to write (replaced if it exists).")
    Path output;

    @Option(names = "--compression", defaultValue = "zstd", converter = CompressionConverter.class,
            description = "zstd, lz4 or none (default: ${DEFAULT-VALUE}).")
    Compression compression;

    @Option(names = "--chunk-size", paramLabel = "BYTES", defaultValue = "1M", converter = Demo.Sizes.class,
            description = "Data bytes per chunk, a multiple of the page size (default: ${DEFAULT-VALUE}).")
    long chunkSize;

    @Option(names = "--page-size", paramLabel = "BYTES", defaultValue = "4K", converter = Demo.Sizes.class,
            description = "The page size the data will be served with: 4K, or 2M for hugetlb (default: ${DEFAULT-VALUE}).")
    long pageSize;

    @Option(names = "--verify", description = "Read the written file back: every chunk decompressed and checked against "
            + "its checksum and against the input.")
    boolean verify;

    @Option(names = "--no-progress", description = "No progress bar (off anyway when the output is not a terminal).")
    boolean noProgress;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Pack()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        ChunkedWriter writer;
        try {
            writer = ChunkedWriter.builder().pageSize((int) pageSize).chunkSize((int) chunkSize).compression(compression);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        long size = Files.size(input);
        boolean bar = !noProgress && System.console() != null;
        long t0 = System.nanoTime();
        ChunkedWriter.Summary s;
        try (ProgressBar progress = bar ? new ProgressBarBuilder().setTaskName("pack").setInitialMax(size >> 20)
                .setUnit(" MiB", 1).setStyle(ProgressBarStyle.ASCII).clearDisplayOnFinish().build() : null) {
            s = writer.progress(done -> {
                        if (progress != null) {
                            progress.stepTo(done >> 20);
                        }
                    }).write(input, output);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "%s: %,d bytes in %,d chunks of %s, %s, %,d bytes written (%.2fx) in %.1f s (%.0f MB/s)%n",
                s.file(), s.dataBytes(), s.chunks(), PagingDemo.bytes(s.chunkSize()), compression, s.fileBytes(), s.ratio(), secs,
                s.dataBytes() / secs / 1e6);
        if (verify) {
            long v0 = System.nanoTime();
            try (ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(output);
                 var raw = java.nio.channels.FileChannel.open(input);
                 Arena arena = Arena.ofConfined()) {
                MemorySegment got = arena.allocate(chunkSize);
                MemorySegment want = arena.allocate(chunkSize);
                for (long off = 0; off < size; off += chunkSize) {
                    long n = Math.min(chunkSize, size - off);
                    src.fill(off, got.asSlice(0, n));
                    want.fill((byte) 0);
                    raw.read(want.asSlice(0, n).asByteBuffer(), off);
                    if (got.asSlice(0, n).mismatch(want.asSlice(0, n)) >= 0) {
                        System.out.println("VERIFY FAILED at the chunk from " + off);
                        return 1;
                    }
                }
            }
            System.out.printf(Locale.ROOT, "verified: every chunk decompresses, matches its checksum and the input (%.1f s)%n",
                    (System.nanoTime() - v0) / 1e9);
        }
        return 0;
    }
}
