package io.github.uffd4j.demo;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.source.ChunkedSource;
import io.github.uffd4j.source.FileSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * {@code scripts/demo --file PATH}: a real file served lazily, a plain file through
 * {@link FileSource} or a chunked one ({@code scripts/pack}) through {@link ChunkedSource}: time to
 * first byte against reading (and decompressing) everything first, random lookups, a full scan.
 * A plain file's bytes are checked against the file; a chunked file's chunks against their
 * checksums (the source does that on every chunk).
 */
final class FileDemo {

    private static final long CHUNK = 1L << 20;

    private final Path file;
    private final int lookups;
    private final int threads;
    private final long seed;

    FileDemo(Path file, int lookups, int threads, long seed) {
        this.file = file;
        this.lookups = lookups;
        this.threads = threads;
        this.seed = seed;
    }

    private boolean chunked() throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return Arrays.equals(in.readNBytes(8), "UFD4JCHK".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        }
    }

    private record Source(PageSource source, java.io.Closeable closer, long size, String what) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            closer.close();
        }
    }

    private Source open() throws IOException {
        if (chunked()) {
            ChunkedSource c = ChunkedSource.open(file);
            return new Source(c, c::close, c.size(), "chunked file, " + c.compression() + ", " + c.chunkCount() + " chunks of "
                    + PagingDemo.bytes(c.chunkSize()));
        }
        FileSource f = FileSource.open(file);
        return new Source(f, f::close, f.size(), "plain file");
    }

    boolean run() throws Exception {
        boolean chunked = chunked();
        long eagerNanos;
        long size;
        try (Source s = open()) {
            size = s.size();
            System.out.printf("A real file served lazily: %s (%s, %s)%n%n", file, s.what(), PagingDemo.bytes(size));
            // the baseline: everything read (and decompressed) into memory before the first byte is used
            long t0 = System.nanoTime();
            try (Mapping eager = Memory.anonymous(Memory.roundUp(Math.max(1, size), Memory.pageSize()))) {
                for (long off = 0; off < size; off += CHUNK) {
                    s.source().fill(off, eager.segment().asSlice(off, Math.min(CHUNK, eager.segment().byteSize() - off)));
                }
                eagerNanos = System.nanoTime() - t0;
            }
        }
        long region = Memory.roundUp(Math.max(1, size), Memory.pageSize());
        long t0 = System.nanoTime();
        try (Source s = open(); LazySegment lazy = LazySegment.builder(region, s.source()).threads(threads).name("demo-file").open();
             var raw = java.nio.channels.FileChannel.open(file)) {
            SplittableRandom rnd = new SplittableRandom(seed);
            lazy.getByte(rnd.nextLong(Math.max(1, size)));
            long ttfb = System.nanoTime() - t0;
            System.out.printf("Time to first byte%n  lazy (open + one fault)   %10.3f ms%n  eager (read everything)   %10.3f ms%n%n",
                    ttfb / 1e6, eagerNanos / 1e6);
            long l0 = System.nanoTime();
            for (int i = 0; i < lookups && size > 0; i++) {
                lazy.getByte(rnd.nextLong(size));
            }
            long lookupNanos = System.nanoTime() - l0;
            System.out.printf("%,d random lookups in %.1f ms; %.2f%% of the pages loaded to answer them%n", lookups,
                    lookupNanos / 1e6, 100.0 * lazy.region().presentPages() / lazy.region().pageCount());
            long wrong = 0;
            long s0 = System.nanoTime();
            MemorySegment want = java.lang.foreign.Arena.ofAuto().allocate(CHUNK);
            for (long off = 0; off < size; off += CHUNK) {
                long n = Math.min(CHUNK, size - off);
                MemorySegment got = lazy.slice(off, n);
                if (!chunked) {
                    raw.read(want.asSlice(0, n).asByteBuffer(), off);
                    if (got.mismatch(want.asSlice(0, n)) >= 0) {
                        wrong++;
                    }
                }
            }
            long scanNanos = System.nanoTime() - s0;
            System.out.printf("Full scan: %s in %.1f ms (%.0f MiB/s)%s%n%n", PagingDemo.bytes(size), scanNanos / 1e6,
                    size / (double) (1 << 20) / (scanNanos / 1e9),
                    chunked ? ", every chunk checked against its checksum" : ", " + wrong + " MiB blocks differing from the file");
            System.out.printf("Counters: %s%n", lazy.stats());
            if (s.source() instanceof ChunkedSource c) {
                System.out.printf("Chunks: %s%n", c.stats());
            }
            return wrong == 0 && lazy.stats().failures() == 0;
        }
    }
}
