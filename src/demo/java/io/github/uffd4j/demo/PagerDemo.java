package io.github.uffd4j.demo;

import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.pager.PagedMemory;
import io.github.uffd4j.pager.Sources;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Plain Java code on lazily paged memory: a pager process (started by this JVM) serves the
 * faults, so JIT-compiled loops read the memory directly while a System.gc() loop runs. Then the
 * in-JVM alternative for contrast: the same scan through {@link LazySegment}, whose pages must be
 * loaded by a native call before Java code reads them (a plain Java load that faults on memory
 * served in this JVM freezes it at the next safepoint).
 */
final class PagerDemo {

    private static final long CHUNK = 1L << 20;
    /** Time between two System.gc() calls: a full GC every few ms, which leaves the scan time to run. */
    private static final long GC_GAP_MILLIS = 5;

    private final long size;
    private final int scanners;
    private final long seed;

    PagerDemo(long size, int scanners, long seed) {
        this.size = size & -CHUNK;
        this.scanners = scanners;
        this.seed = seed;
    }

    /** What one scan saw. */
    private record Scan(long nanos, long wrong, long gcs, long gcMillis) {
        String describe(long size) {
            return String.format("%6.2f s  %6.0f MiB/s   %,d wrong words   %,d GCs meanwhile (%,d ms in GC)",
                    nanos / 1e9, size / (double) (1 << 20) / (nanos / 1e9), wrong, gcs, gcMillis);
        }
    }

    boolean run() throws Exception {
        URI source = URI.create("pattern:" + seed);
        System.out.printf("Plain Java on lazy memory: %s from %s, %d scanning threads reading every 8-byte word in a%n"
                + "  JIT-compiled loop (MemorySegment.get, no accessor), System.gc() every %d ms all along%n%n",
                PagingDemo.bytes(size), source, scanners, GC_GAP_MILLIS);

        Scan paged;
        long t0 = System.nanoTime();
        try (PagedMemory pager = PagedMemory.builder().pagerJvmOptions(List.of("-Xmx256m")).connect()) {
            long started = System.nanoTime() - t0;
            PagedMemory.Region region = pager.map("demo", size, source);
            System.out.printf("  pager     pid %d started by this JVM in %.0f ms (a new JVM under a supervisor)%n",
                    pager.pagerPid(), started / 1e6);
            MemorySegment m = region.segment();
            paged = underGcStorm(() -> scanParallel(off -> m.asSlice(off, CHUNK)));
            System.out.printf("  paged by the pager, plain Java   %s%n", paged.describe(size));
        }

        Scan inJvm;
        try (LazySegment lazy = LazySegment.builder(size, Sources.open(source, size)).name("demo-in-jvm").open()) {
            // slice() loads the chunk (a native call populates it) before Java code reads it
            inJvm = underGcStorm(() -> scanParallel(off -> lazy.slice(off, CHUNK)));
            System.out.printf("  served in this JVM, LazySegment  %s%n", inJvm.describe(size));
        }
        System.out.printf("  (plain Java on memory served in this JVM is not run: it freezes the JVM at the first%n"
                + "   GC that starts while a fault waits; see JvmSafepointHazardTest)%n%n");
        boolean ok = paged.wrong() == 0 && inJvm.wrong() == 0;
        System.out.println("Verification: " + (ok ? "every word read matches the source, both ways" : "FAILED"));
        return ok;
    }

    /** Sums the wrong words of {@code [0, length)} of {@code m}, which holds the source from {@code base}. */
    private long scan(MemorySegment m, long base, long length) {
        long wrong = 0;
        for (long o = 0; o < length; o += 8) {
            if (m.get(ValueLayout.JAVA_LONG, o) != Sources.patternWord(seed, base + o)) {
                wrong++;
            }
        }
        return wrong;
    }

    private interface Work {
        long run() throws Exception;
    }

    /** Runs {@code work} while another thread calls System.gc() every {@link #GC_GAP_MILLIS}. */
    private Scan underGcStorm(Work work) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong gcs = new AtomicLong();
        Thread storm = Thread.ofPlatform().daemon().name("demo-gc-loop").start(() -> {
            while (!done.get()) {
                System.gc();
                gcs.incrementAndGet();
                try {
                    Thread.sleep(GC_GAP_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        long gcMillis0 = gcMillis();
        long t0 = System.nanoTime();
        long wrong;
        try {
            wrong = work.run();
        } finally {
            done.set(true);
        }
        long nanos = System.nanoTime() - t0;
        storm.join();
        return new Scan(nanos, wrong, gcs.get(), gcMillis() - gcMillis0);
    }

    /** {@link #scanners} threads, each on its own interleaved 1 MiB chunks, as {@code chunkAt} hands them out. */
    private long scanParallel(java.util.function.LongFunction<MemorySegment> chunkAt) throws InterruptedException {
        AtomicLong wrong = new AtomicLong();
        Thread[] ts = new Thread[scanners];
        for (int t = 0; t < scanners; t++) {
            int me = t;
            ts[t] = Thread.ofPlatform().name("demo-scan-" + t).start(() -> {
                long w = 0;
                for (long off = me * CHUNK; off < size; off += scanners * CHUNK) {
                    w += scan(chunkAt.apply(off), off, CHUNK);
                }
                wrong.addAndGet(w);
            });
        }
        for (Thread t : ts) {
            t.join();
        }
        return wrong.get();
    }

    private static long gcMillis() {
        return ManagementFactory.getGarbageCollectorMXBeans().stream().mapToLong(GarbageCollectorMXBean::getCollectionTime)
                .filter(t -> t >= 0).sum();
    }
}
