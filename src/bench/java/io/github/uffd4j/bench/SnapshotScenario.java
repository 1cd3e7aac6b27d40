package io.github.uffd4j.bench;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.pager.PagedMemory;
import io.github.uffd4j.pager.PagedSnapshot;
import io.github.uffd4j.snapshot.LiveSnapshots;
import io.github.uffd4j.snapshot.Quiesce;
import io.github.uffd4j.snapshot.Snapshot;
import io.github.uffd4j.snapshot.TrackedSnapshots;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Live snapshots under a steady write load (scripts/bench --snapshots): for one memory size, a
 * writer thread writes 64-byte records at random places as fast as it can while snapshots are
 * taken, and the run measures what the issue asks: the time until {@code snapshot()} returns, the
 * writer's throughput and write latency while a snapshot runs against without one, the total time
 * against the disk's sequential write speed, an increment after 1% of the pages were written,
 * and the baselines of pausing the writer while everything is written to the file or copied in
 * memory. A scenario, not a JMH benchmark: each figure is one long run (seconds to minutes), the
 * way the application would live it.
 *
 * <p>{@link LiveSnapshots}' writer writes from native code (a libc memset through a downcall), as
 * its API requires; {@link TrackedSnapshots}' writer and the writer of memory a pager snapshots
 * ({@link PagedMemory.Region#snapshot}) use plain Java stores.
 *
 * <p>Arguments: memory size in bytes, folder for the files, CSV file to append rows
 * {@code size,case,metric,value} to, and optionally how long each load runs without a snapshot
 * (milliseconds, default 2000).
 */
public final class SnapshotScenario {

    private static final long PS = Memory.pageSize();
    private static final long RECORD = 64;
    private final long baselineNanos;
    /** The steady load: writes per second. */
    private static final long STEADY_RATE = 100_000;

    private final long size;
    private final Path dir;
    private final List<String> rows = new ArrayList<>();

    private SnapshotScenario(long size, Path dir, long baselineNanos) {
        this.size = size;
        this.dir = dir;
        this.baselineNanos = baselineNanos;
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        Path dir = Files.createDirectories(Path.of(args[1]));
        Path csv = Path.of(args[2]);
        long baselineMs = args.length > 3 ? Long.parseLong(args[3]) : 2000;
        SnapshotScenario s = new SnapshotScenario(size, dir, baselineMs * 1_000_000);
        s.run();
        boolean header = !Files.exists(csv);
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(csv, StandardOpenOption.CREATE, StandardOpenOption.APPEND))) {
            if (header) {
                out.println("size,case,metric,value");
            }
            s.rows.forEach(out::println);
        }
    }

    private void row(String kase, String metric, double value) {
        rows.add(size + "," + kase + "," + metric + "," + value);
        System.out.printf("  %-14s %-28s %,.3f%n", kase, metric, value);
    }

    /** The cases to run ({@code -Duffd4j.bench.snapshotCases=live,tracked,paged}; default all). */
    private static final java.util.Set<String> CASES = java.util.Set.of(
            System.getProperty("uffd4j.bench.snapshotCases", "baselines,live,tracked,paged").split(","));

    private void run() throws Exception {
        System.out.printf("== snapshots of %d MiB, page %d, one writer of %d-byte records%n", size >> 20, PS, RECORD);
        try (Mapping m = Memory.anonymous(size)) {
            fill(m.segment());
            if (CASES.contains("baselines")) {
                disk(m.segment());
                pauseAndCopy(m.segment());
            }
            if (CASES.contains("live")) {
                live(m.segment());
            }
            if (CASES.contains("tracked")) {
                tracked(m.segment());
            }
        }
        if (CASES.contains("paged")) {
            paged();
        }
    }

    /**
     * Snapshots taken by a pager of this JVM's own ({@link PagedMemory#launch()}) while a writer
     * writes the memory with plain Java stores: the copy before a write is the pager's, across
     * processes (a write fault goes to the pager, which reads the page with process_vm_readv).
     */
    private void paged() throws Exception {
        Path file = dir.resolve("paged.u4s");
        try (PagedMemory pager = PagedMemory.launch()) {
            PagedMemory.Region r = pager.map("state", size, io.github.uffd4j.pager.Sources.ZERO);
            fill(r.segment()); // every page present, served by the pager
            for (long rate : RATES) {
                String kase = "paged-" + load(rate);
                try (Writer w = new Writer(r.segment(), false, rate)) {
                    w.phase(0, baselineNanos);
                    long start = w.begin(1);
                    PagedSnapshot s = r.snapshot(file, w);
                    long returned = System.nanoTime();
                    s.await(Duration.ofMinutes(30));
                    reportSnapshot(kase, w, start, returned, "pager's part of the pause ms", s.pause(), s.progress(), file);
                }
                Files.delete(file);
            }
        }
    }

    /** Every page gets words of its own, except every 8th page: zeros (left out of a full snapshot). */
    private void fill(MemorySegment mem) {
        long t0 = System.nanoTime();
        for (long p = 0; p < size / PS; p++) {
            if (p % 8 == 7) {
                continue;
            }
            for (long o = 0; o < PS; o += 8) {
                mem.set(ValueLayout.JAVA_LONG, p * PS + o, p * 0x9E3779B97F4A7C15L + o);
            }
        }
        System.out.printf("  filled in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    /** The disk's sequential write speed (the memory written to a file in 8 MiB writes, synced), and the pause-and-write baseline. */
    private void disk(MemorySegment mem) throws IOException {
        Path f = dir.resolve("disk.bin");
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            long chunk = 8L << 20;
            for (long o = 0; o < size; o += chunk) {
                ByteBuffer b = mem.asSlice(o, Math.min(chunk, size - o)).asByteBuffer();
                while (b.hasRemaining()) {
                    ch.write(b, o + b.position());
                }
            }
            ch.force(true);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        Files.delete(f);
        row("disk", "sequential MB/s", size / s / 1e6);
        row("pause-write", "pause ms", s * 1e3);
    }

    /** The baseline of holding the writers while everything is copied to memory of its own (then written at leisure). */
    private void pauseAndCopy(MemorySegment mem) {
        try (Mapping copy = Memory.anonymous(size)) {
            copy.segment().fill((byte) 0); // its pages exist already: the copy is a copy, not page faults
            long t0 = System.nanoTime();
            MemorySegment.copy(mem, 0, copy.segment(), 0, size);
            row("pause-copy", "pause ms", (System.nanoTime() - t0) / 1e6);
        }
    }

    /** The loads: a steady one (a rate the writer keeps easily without a snapshot), and as fast as it can. */
    private static final long[] RATES = {STEADY_RATE, 0};

    private static String load(long rate) {
        return rate == 0 ? "flat-out" : "steady";
    }

    private void live(MemorySegment mem) throws Exception {
        warmUp();
        Path file = dir.resolve("live.u4s");
        long t0 = System.nanoTime();
        try (LiveSnapshots snaps = LiveSnapshots.of(mem)) {
            row("live", "register ms", (System.nanoTime() - t0) / 1e6);
            for (long rate : RATES) {
                String kase = "live-" + load(rate);
                try (Writer w = new Writer(mem, true, rate)) {
                    w.phase(0, baselineNanos);
                    long start = w.begin(1);
                    Snapshot s = snaps.snapshot(file, w);
                    long returned = System.nanoTime();
                    s.await(Duration.ofMinutes(30));
                    reportSnapshot(kase, w, start, returned, "writers paused ms", s.pause(), s.progress(), file);
                }
                Files.delete(file);
            }
        }
    }

    /** The rows of one snapshot taken under writer {@code w} from {@code start}, whose call returned at {@code returned}. */
    private void reportSnapshot(String kase, Writer w, long start, long returned, String pauseMetric, Duration pause,
                                Snapshot.Progress p, Path file) throws IOException, InterruptedException {
        long end = w.end();
        row(kase, "snapshot() returns ms", (returned - start) / 1e6);
        row(kase, pauseMetric, pause.toNanos() / 1e6);
        row(kase, "total s", (end - start) / 1e9);
        row(kase, "MB/s", size / ((end - start) / 1e9) / 1e6);
        row(kase, "pages saved before a write", p.savedBeforeWrite());
        row(kase, "pages saved in background", p.savedInBackground());
        row(kase, "file MiB", Files.size(file) / (double) (1 << 20));
        w.report(kase);
    }

    /** A snapshot of a little memory first: the first one in a JVM loads and compiles the classes (reported). */
    private void warmUp() throws Exception {
        Path file = dir.resolve("warm-up.u4s");
        try (Mapping small = Memory.anonymous(16L << 20)) {
            small.segment().fill((byte) 1);
            for (int i = 0; i < 3; i++) {
                long t0 = System.nanoTime();
                try (LiveSnapshots snaps = LiveSnapshots.of(small.segment())) {
                    long t1 = System.nanoTime();
                    Snapshot s = snaps.snapshot(file, Quiesce.NONE);
                    long t2 = System.nanoTime();
                    s.await(Duration.ofMinutes(1));
                    if (i == 0) {
                        row("first-in-jvm", "of() ms (16 MiB)", (t1 - t0) / 1e6);
                        row("first-in-jvm", "snapshot() returns ms", (t2 - t1) / 1e6);
                    }
                }
                Files.delete(file);
            }
        }
    }

    private void tracked(MemorySegment mem) throws Exception {
        for (long rate : RATES) {
            try (Writer plain = new Writer(mem, false, rate)) {
                plain.phase(0, baselineNanos);
                plain.reportBaseline("java-plain-" + load(rate));
            }
        }
        Path full = dir.resolve("tracked-full.u4s");
        for (long rate : RATES) {
            String kase = "tracked-" + load(rate);
            double fullMs;
            long t0 = System.nanoTime();
            try (TrackedSnapshots t = TrackedSnapshots.of(mem)) {
                row(kase, "register ms", (System.nanoTime() - t0) / 1e6);
                try (Writer w = new Writer(mem, false, rate)) {
                    w.phase(0, baselineNanos);
                    long start = w.begin(1);
                    TrackedSnapshots.Result r = t.snapshot(full, w);
                    long end = w.end();
                    fullMs = (end - start) / 1e6;
                    row(kase, "total s", (end - start) / 1e9);
                    row(kase, "MB/s", size / ((end - start) / 1e9) / 1e6);
                    row(kase, "rounds", r.pagesPerRound().size());
                    row(kase, "pages in last round", r.pagesPerRound().getLast());
                    row(kase, "writers paused ms", r.pause().toNanos() / 1e6);
                    row(kase, "file MiB", Files.size(full) / (double) (1 << 20));
                    w.report(kase);
                    System.out.println("  rounds: " + r.pagesPerRound());
                }
                if (rate != 0) {
                    increment(t, mem, full, fullMs);
                }
            }
            Files.delete(full);
        }
    }

    /** An increment after 1% of the pages were written (one word each, distinct pages), against the full snapshot. */
    private void increment(TrackedSnapshots t, MemorySegment mem, Path full, double fullMs) throws Exception {
        Path settle = dir.resolve("tracked-settle.u4s");
        Path inc = dir.resolve("tracked-inc.u4s");
        t.snapshot(settle, Quiesce.NONE); // what the writer wrote after the full snapshot's pause
        long pages = size / PS;
        SplittableRandom rnd = new SplittableRandom(3);
        long written = 0;
        for (long p = rnd.nextLong(100); p < pages; p += 100) {
            mem.set(ValueLayout.JAVA_LONG, p * PS + 8 * rnd.nextInt(512), rnd.nextLong() | 1);
            written++;
        }
        long i0 = System.nanoTime();
        TrackedSnapshots.Result ri = t.snapshot(inc, Quiesce.NONE);
        double incMs = (System.nanoTime() - i0) / 1e6;
        row("increment", "pages written", written);
        row("increment", "pages stored", ri.pagesStored());
        row("increment", "ms", incMs);
        row("increment", "file MiB", Files.size(inc) / (double) (1 << 20));
        row("increment", "bytes / full", Files.size(inc) / (double) Files.size(full));
        row("increment", "time / full", incMs / fullMs);
        Files.delete(settle);
        Files.delete(inc);
    }

    /**
     * One thread writing 64-byte records at random places, as fast as it can: from native code
     * (memset through a downcall) or with plain Java stores. Each write's latency goes into the
     * histogram of the current phase; {@link #pause} holds it between two writes.
     */
    private final class Writer implements Quiesce, AutoCloseable {
        private final MemorySegment mem;
        private final boolean nativeWrites;
        private final long rate;
        private final Thread thread;
        private final long[][] hist = new long[3][Histogram.BUCKETS];
        private final long[] writes = new long[3];
        private final long[] nanos = new long[3];
        private volatile int phase = 2; // until the first phase: warming up, not reported
        private volatile boolean stop;
        private volatile boolean pauseRequested;
        private volatile boolean parked;
        private long phaseStart;

        /** {@code rate}: writes per second, 0 for as fast as it can. */
        Writer(MemorySegment mem, boolean nativeWrites, long rate) {
            this.mem = mem;
            this.nativeWrites = nativeWrites;
            this.rate = rate;
            this.phaseStart = System.nanoTime();
            this.thread = Thread.ofPlatform().name("writer").start(this::loop);
        }

        private void loop() {
            SplittableRandom rnd = new SplittableRandom(11);
            long records = size / RECORD;
            long address = mem.address();
            long interval = rate > 0 ? 1_000_000_000L / rate : 0;
            long due = System.nanoTime();
            while (!stop) {
                if (rate > 0) { // steady: the writes due so far, then a short sleep
                    due += interval;
                    long now = System.nanoTime();
                    if (due > now) {
                        java.util.concurrent.locks.LockSupport.parkNanos(due - now);
                    }
                }
                long t0 = System.nanoTime();
                if (pauseRequested) {
                    parked = true;
                    while (pauseRequested) {
                        Thread.onSpinWait();
                    }
                    parked = false;
                }
                long off = rnd.nextLong(records) * RECORD;
                long v = t0 | 1;
                if (nativeWrites) {
                    NativeTouch.fill(address + off, (int) v & 0xff, RECORD);
                } else {
                    for (long o = 0; o < RECORD; o += 8) {
                        mem.set(ValueLayout.JAVA_LONG, off + o, v);
                    }
                }
                int ph = phase;
                hist[ph][Histogram.bucket(System.nanoTime() - t0)]++;
                writes[ph]++;
            }
        }

        /** Runs phase {@code ph} for {@code duration} nanoseconds. */
        void phase(int ph, long duration) throws InterruptedException {
            begin(ph);
            Thread.sleep(Duration.ofNanos(duration));
            end();
        }

        long begin(int ph) {
            long now = System.nanoTime();
            nanos[phase] += now - phaseStart;
            phaseStart = now;
            phase = ph;
            return now;
        }

        long end() {
            return begin(2); // phase 2: after, not reported
        }

        @Override
        public void pause() {
            pauseRequested = true;
            while (!parked && thread.isAlive()) {
                Thread.onSpinWait();
            }
        }

        @Override
        public void resume() {
            pauseRequested = false;
        }

        void reportBaseline(String kase) throws InterruptedException {
            close();
            row(kase, "writes/s", writes[0] / (nanos[0] / 1e9));
            row(kase, "write p50 ns", Histogram.percentile(hist[0], 50));
            row(kase, "write p99 ns", Histogram.percentile(hist[0], 99));
        }

        void report(String kase) throws InterruptedException {
            close();
            double base = writes[0] / (nanos[0] / 1e9);
            double during = writes[1] / (nanos[1] / 1e9);
            row(kase, "writes/s without", base);
            row(kase, "writes/s during", during);
            row(kase, "throughput ratio", during / base);
            row(kase, "write p50 ns without", Histogram.percentile(hist[0], 50));
            row(kase, "write p99 ns without", Histogram.percentile(hist[0], 99));
            row(kase, "write p50 ns during", Histogram.percentile(hist[1], 50));
            row(kase, "write p99 ns during", Histogram.percentile(hist[1], 99));
            row(kase, "write p99.9 ns during", Histogram.percentile(hist[1], 99.9));
            row(kase, "write max ns during", Histogram.percentile(hist[1], 100));
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            pauseRequested = false;
            thread.join();
        }
    }

    /** Log-linear buckets of nanoseconds, eight per power of two (each value known within 12.5%). */
    static final class Histogram {
        static final int BUCKETS = 64 * 8;

        static int bucket(long v) {
            if (v < 8) {
                return (int) Math.max(v, 0);
            }
            int e = 63 - Long.numberOfLeadingZeros(v);
            return (e - 2) * 8 + (int) ((v >>> (e - 3)) & 7);
        }

        static long upperBound(int b) {
            if (b < 8) {
                return b;
            }
            int e = b / 8 + 2;
            long sub = b % 8;
            return ((8 + sub + 1) << (e - 3)) - 1;
        }

        static long percentile(long[] counts, double p) {
            long total = 0;
            for (long c : counts) {
                total += c;
            }
            if (total == 0) {
                return 0;
            }
            long rank = Math.max(1, (long) Math.ceil(p / 100 * total));
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank) {
                    return upperBound(i);
                }
            }
            return upperBound(counts.length - 1);
        }
    }
}
