package io.github.uffd4j.demo;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.source.ChunkedSource;
import io.github.uffd4j.source.FileSource;
import io.github.uffd4j.source.RangeReader;
import io.github.uffd4j.source.RangeSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * {@code scripts/demo --file PATH} and {@code --url URI}: a real dataset served lazily, from a
 * file, an S3 object or a web server; plain, or chunked by {@code scripts/pack} (told apart by the
 * magic). Time to first byte against reading (and decompressing) everything first, random
 * lookups, a full scan. A plain file's bytes are checked against the file, a plain remote
 * object's against the eager copy, a chunked dataset's chunks against their checksums (the source
 * checks every chunk).
 */
final class FileDemo {

    private static final long CHUNK = 1L << 20;

    private final Path file;
    private final URI uri;
    private final int lookups;
    private final int threads;
    private final long seed;

    /** {@code file} or else {@code uri} is the dataset. */
    FileDemo(Path file, URI uri, int lookups, int threads, long seed) {
        this.file = file;
        this.uri = uri;
        this.lookups = lookups;
        this.threads = threads;
        this.seed = seed;
    }

    private String location() {
        return file != null ? file.toString() : uri.toString();
    }

    private record Source(PageSource source, AutoCloseable closer, long size, boolean chunked, String what) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            closer.close();
        }
    }

    private Source open() throws IOException {
        RangeReader in = file != null ? RangeReader.open(file) : RangeReader.open(uri);
        try {
            if (ChunkedSource.isChunked(in)) {
                ChunkedSource c = ChunkedSource.builder().open(in);
                return new Source(c, c, c.size(), true, "chunked, " + c.compression() + ", " + c.chunkCount() + " chunks of "
                        + PagingDemo.bytes(c.chunkSize()));
            }
            if (file != null) {
                in.close();
                FileSource f = FileSource.open(file);
                return new Source(f, f, f.size(), false, "plain file");
            }
            RangeSource r = new RangeSource(in);
            return new Source(r, r, r.size(), false, "plain object");
        } catch (IOException | RuntimeException e) {
            in.close();
            throw e;
        }
    }

    boolean run() throws Exception {
        long eagerNanos;
        long size;
        boolean chunked;
        Mapping eager = null;
        try {
            try (Source s = open()) {
                size = s.size();
                chunked = s.chunked();
                System.out.printf("A real dataset served lazily: %s (%s, %s)%n%n", location(), s.what(), PagingDemo.bytes(size));
                // the baseline: everything read (and decompressed) into memory before the first byte is used
                long t0 = System.nanoTime();
                eager = Memory.anonymous(Memory.roundUp(Math.max(1, size), Memory.pageSize()));
                for (long off = 0; off < size; off += CHUNK) {
                    s.source().fill(off, eager.segment().asSlice(off, Math.min(CHUNK, eager.segment().byteSize() - off)));
                }
                eagerNanos = System.nanoTime() - t0;
            }
            if (chunked || file != null) { // checked another way: no need to keep the copy
                eager.close();
                eager = null;
            }
            return lazily(size, chunked, eagerNanos, eager);
        } finally {
            if (eager != null) {
                eager.close();
            }
        }
    }

    private boolean lazily(long size, boolean chunked, long eagerNanos, Mapping eager) throws Exception {
        long region = Memory.roundUp(Math.max(1, size), Memory.pageSize());
        long t0 = System.nanoTime();
        try (Source s = open(); LazySegment lazy = LazySegment.builder(region, s.source()).threads(threads).name("demo-file").open();
             FileChannel raw = file != null && !chunked ? FileChannel.open(file) : null) {
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
            MemorySegment want = Arena.ofAuto().allocate(CHUNK);
            for (long off = 0; off < size; off += CHUNK) {
                long n = Math.min(CHUNK, size - off);
                MemorySegment got = lazy.slice(off, n);
                if (raw != null) {
                    raw.read(want.asSlice(0, n).asByteBuffer(), off);
                    wrong += got.mismatch(want.asSlice(0, n)) >= 0 ? 1 : 0;
                } else if (eager != null) {
                    wrong += got.mismatch(eager.segment().asSlice(off, n)) >= 0 ? 1 : 0;
                }
            }
            long scanNanos = System.nanoTime() - s0;
            String check = chunked ? ", every chunk checked against its checksum"
                    : ", " + wrong + " MiB blocks differing from " + (raw != null ? "the file" : "the eager copy");
            System.out.printf("Full scan: %s in %.1f ms (%.0f MiB/s)%s%n%n", PagingDemo.bytes(size), scanNanos / 1e6,
                    size / (double) (1 << 20) / (scanNanos / 1e9), check);
            System.out.printf("Counters: %s%n", lazy.stats());
            if (s.source() instanceof ChunkedSource c) {
                System.out.printf("Chunks: %s%n", c.stats());
            }
            return wrong == 0 && lazy.stats().failures() == 0;
        }
    }
}
