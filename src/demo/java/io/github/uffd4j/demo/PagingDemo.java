package io.github.uffd4j.demo;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.FaultStats;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageSource;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * On-demand paging for real: a deterministic dataset served lazily through {@link LazySegment}
 * to a consumer that does random lookups, then a sequential scan; every byte it reads is
 * checked against what the dataset must hold.
 */
final class PagingDemo {

    private static final long CHUNK = 1L << 20;

    private final long size;
    private final int lookups;
    private final int threads;
    private final long faultAround;
    private final long maxReadahead;
    private final long sourceLatencyNanos;
    private final long seed;
    private final boolean progress;
    private long mismatches;
    private long bytesChecked;

    PagingDemo(long size, int lookups, int threads, long faultAround, long maxReadahead, long sourceLatencyMicros,
               long seed, boolean progress) {
        this.size = size & -8L;
        this.lookups = lookups;
        this.threads = threads;
        this.faultAround = faultAround;
        this.maxReadahead = maxReadahead;
        this.sourceLatencyNanos = TimeUnit.MICROSECONDS.toNanos(sourceLatencyMicros);
        this.seed = seed;
        this.progress = progress;
    }

    /** The 8 bytes at {@code offset} (a multiple of 8) of the dataset. */
    static long word(long seed, long offset) {
        long z = (seed ^ 0x5DEECE66DL) * 0x9E3779B97F4A7C15L + offset;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** The dataset as a page source: computed, plus the simulated latency per call. */
    private PageSource source() {
        return (offset, dst) -> {
            if (sourceLatencyNanos > 0) {
                Thread.sleep(Duration.ofNanos(sourceLatencyNanos));
            }
            long n = dst.byteSize();
            for (long i = 0; i < n; i += 8) {
                dst.set(ValueLayout.JAVA_LONG_UNALIGNED, i, word(seed, offset + i));
            }
        };
    }

    boolean run() throws Exception {
        long pages = Memory.roundUp(size, Memory.pageSize()) / Memory.pageSize();
        System.out.printf("On-demand paging: a %s dataset (%,d pages of %d bytes), seed %d, %d handler threads,%n"
                        + "  fault-around %s, readahead up to %s, source latency %d us per call%n%n",
                bytes(size), pages, Memory.pageSize(), seed, threads, bytes(faultAround), bytes(maxReadahead),
                sourceLatencyNanos / 1000);

        long eagerNanos = eager();

        long t0 = System.nanoTime();
        try (LazySegment data = LazySegment.builder(size, source()).threads(threads).faultAround(faultAround)
                .maxReadahead(maxReadahead).name("demo-dataset").open()) {
            SplittableRandom rnd = new SplittableRandom(seed);
            long firstOffset = rnd.nextLong(size / 8) * 8;
            check(firstOffset, data.getLong(firstOffset));
            long ttfbNanos = System.nanoTime() - t0;
            System.out.printf("Time to first byte%n  lazy (open + one fault)   %10.3f ms%n  eager (load everything)   %10.3f ms"
                            + "   -> first byte %,.0fx sooner%n%n", ttfbNanos / 1e6, eagerNanos / 1e6,
                    (double) eagerNanos / Math.max(1, ttfbNanos));

            // Phase 1: random lookups
            long p1 = System.nanoTime();
            try (ProgressBar bar = bar("random lookups", lookups)) {
                for (int i = 0; i < lookups; i++) {
                    long off = rnd.nextLong(size / 8) * 8;
                    check(off, data.getLong(off));
                    step(bar, 1);
                }
            }
            long randomNanos = System.nanoTime() - p1;
            FaultStats afterRandom = data.stats();
            int presentAfterRandom = data.region().presentPages();
            System.out.printf("Phase 1: %,d random lookups in %.1f ms (%.1f us each)%n", lookups, randomNanos / 1e6,
                    randomNanos / 1e3 / Math.max(1, lookups));
            System.out.printf("  faults served %,d, pages loaded %,d of %,d (%.2f%% of the dataset read to answer them)%n%n",
                    afterRandom.faults(), presentAfterRandom, pages, 100.0 * presentAfterRandom / pages);

            // Phase 2: sequential scan of everything, every byte checked
            long p2 = System.nanoTime();
            try (ProgressBar bar = bar("sequential scan (MiB)", (size + CHUNK - 1) / CHUNK)) {
                for (long off = 0; off < size; off += CHUNK) {
                    long len = Math.min(CHUNK, size - off);
                    MemorySegment chunk = data.slice(off, len);
                    for (long i = 0; i + 8 <= len; i += 8) {
                        long v = chunk.get(ValueLayout.JAVA_LONG_UNALIGNED, i);
                        if (v != word(seed, off + i)) {
                            mismatch(off + i, v);
                        }
                    }
                    bytesChecked += len;
                    step(bar, 1);
                }
            }
            long scanNanos = System.nanoTime() - p2;
            FaultStats end = data.stats();
            long scanFaults = end.faults() - afterRandom.faults();
            long scanPages = end.pagesLoaded() - afterRandom.pagesLoaded();
            long faultAroundPages = Math.max(1, faultAround / Memory.pageSize());
            System.out.printf("Phase 2: sequential scan of %s in %.1f ms (%.0f MiB/s)%n", bytes(size), scanNanos / 1e6,
                    size / (double) (1 << 20) / (scanNanos / 1e9));
            System.out.printf("  faults served %,d for %,d pages loaded: %.1f pages (%s) per fault%n", scanFaults, scanPages,
                    (double) scanPages / Math.max(1, scanFaults), bytes(scanPages * Memory.pageSize() / Math.max(1, scanFaults)));
            System.out.printf("  readahead effect: fault-around alone would have needed about %,d faults (%.0fx more)%n%n",
                    scanPages / faultAroundPages, (double) (scanPages / faultAroundPages) / Math.max(1, scanFaults));

            System.out.printf("Fault service time (read of the message to resolved), %,d faults:%n", end.latency().count());
            System.out.printf("  p50 %8.1f us   p90 %8.1f us   p99 %8.1f us   p99.9 %8.1f us   max %8.1f us%n%n",
                    end.latency().percentile(50) / 1e3, end.latency().percentile(90) / 1e3, end.latency().percentile(99) / 1e3,
                    end.latency().percentile(99.9) / 1e3, end.latency().max() / 1e3);
            System.out.printf("Counters: %s%n%n", end);

            // the kernel wakes a reader just before the handler thread records the last pages: let it finish
            for (int i = 0; i < 200 && !data.region().isFullyLoaded(); i++) {
                Thread.sleep(10);
            }
            boolean ok = mismatches == 0 && end.failures() == 0 && data.region().isFullyLoaded();
            System.out.printf("Verification: %,d lookups and %s scanned, %,d mismatches, %d failures, %,d/%,d pages present: %s%n",
                    lookups + 1, bytes(bytesChecked), mismatches, end.failures(), data.region().presentPages(), pages,
                    ok ? "every byte read matches the dataset" : "FAILED");
            return ok;
        }
    }

    /** Loads the whole dataset up front into plain memory: the baseline for time to first byte. */
    private long eager() throws Exception {
        long t0 = System.nanoTime();
        PageSource source = source();
        long block = Math.max(maxReadahead, Memory.pageSize());
        try (Mapping m = Memory.anonymous(Memory.roundUp(size, Memory.pageSize()));
             ProgressBar bar = bar("eager load (MiB)", (size + CHUNK - 1) / CHUNK)) {
            long done = 0;
            for (long off = 0; off < size; off += block) {
                long len = Math.min(block, size - off);
                source.fill(off, m.segment().asSlice(off, len));
                long mib = (off + len + CHUNK - 1) / CHUNK;
                step(bar, mib - done);
                done = mib;
            }
            long first = m.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
            if (first != word(seed, 0)) {
                mismatch(0, first);
            }
            return System.nanoTime() - t0;
        }
    }

    private void check(long offset, long value) {
        bytesChecked += 8;
        if (value != word(seed, offset)) {
            mismatch(offset, value);
        }
    }

    private void mismatch(long offset, long value) {
        if (mismatches++ < 10) {
            System.out.printf("  MISMATCH at offset %d: 0x%016x, expected 0x%016x%n", offset, value, word(seed, offset));
        }
    }

    private ProgressBar bar(String task, long max) {
        if (!progress) {
            return null;
        }
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(100).continuousUpdate().clearDisplayOnFinish().build();
    }

    private static void step(ProgressBar bar, long n) {
        if (bar != null) {
            bar.stepBy(n);
        }
    }

    static String bytes(long b) {
        if (b >= 1L << 30 && b % (1L << 30) == 0) {
            return (b >> 30) + " GiB";
        }
        if (b >= 1L << 20) {
            return String.format("%.1f MiB", b / (double) (1 << 20)).replace(".0 ", " ");
        }
        if (b >= 1L << 10) {
            return String.format("%.1f KiB", b / 1024.0).replace(".0 ", " ");
        }
        return b + " B";
    }
}
