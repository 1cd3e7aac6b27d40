package io.github.uffd4j.pager;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The app of {@link PagerTest}, run in a child JVM: maps SIZE bytes served by the pager at
 * SOCKET from {@code pattern:SEED}, has THREADS threads read every word with plain Java code
 * (each its own stripe of pages) while another thread calls System.gc() in a loop, checks each
 * word, writes to every 16th page and reads the write back, and prints one RESULT line.
 *
 * <p>Arguments: SOCKET SIZE SEED THREADS [BACKING] (a {@link RegionSpec.Backing} name; default ANONYMOUS).
 * SOCKET {@code launch} starts a pager of the app's own ({@link PagedMemory#builder()}); the
 * property {@code uffd4j.test.pagerUids} (comma separated) sets {@link PagedMemory.Builder#pagerUids}.
 * Prints {@code PAGER <pid> <parent pid>} once connected.
 */
public final class PagerAppChild {

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[1]);
        long seed = Long.parseLong(args[2]);
        int threads = Integer.parseInt(args[3]);
        RegionSpec.Backing backing = args.length > 4 ? RegionSpec.Backing.valueOf(args[4]) : RegionSpec.Backing.ANONYMOUS;
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong gcs = new AtomicLong();
        Thread gc = Thread.ofPlatform().daemon().start(() -> {
            while (!done.get()) {
                System.gc();
                gcs.incrementAndGet();
            }
        });
        long t0 = System.nanoTime();
        try (PagedMemory pager = builder(args[0]).connect()) {
            System.out.println("PAGER " + pager.pagerPid() + " "
                    + ProcessHandle.of(pager.pagerPid()).flatMap(ProcessHandle::parent).map(ProcessHandle::pid).orElse(-1L));
            PagedMemory.Region r = pager.map("test", size, URI.create("pattern:" + seed), backing, null);
            MemorySegment m = r.segment();
            long page = 4096;
            long pages = size / page;
            AtomicLong bad = new AtomicLong();
            AtomicLong firstBad = new AtomicLong(-1);
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts[t] = Thread.ofPlatform().start(() -> {
                    for (long p = me; p < pages; p += threads) {
                        long base = p * page;
                        for (long o = 0; o < page; o += 8) {
                            if (m.get(ValueLayout.JAVA_LONG, base + o) != Sources.patternWord(seed, base + o)) {
                                bad.incrementAndGet();
                                firstBad.compareAndSet(-1, base + o);
                            }
                        }
                        if (p % 16 == 0) {
                            m.set(ValueLayout.JAVA_LONG, base, ~Sources.patternWord(seed, base));
                            if (m.get(ValueLayout.JAVA_LONG, base) != ~Sources.patternWord(seed, base)) {
                                bad.incrementAndGet();
                            }
                        }
                    }
                });
            }
            for (Thread t : ts) {
                t.join();
            }
            done.set(true);
            gc.join();
            io.github.uffd4j.handler.FaultStats stats = pager.stats();
            System.out.printf("STATS loaded=%d failures=%d faults=%d%n", stats.pagesLoaded() + stats.backgroundPages(),
                    stats.failures(), stats.faults());
            System.out.printf("RESULT pages=%d bad=%d firstBad=%d gcs=%d millis=%d%n", pages, bad.get(), firstBad.get(),
                    gcs.get(), (System.nanoTime() - t0) / 1_000_000);
        }
    }

    static PagedMemory.Builder builder(String socket) {
        PagedMemory.Builder b = socket.equals("launch") ? PagedMemory.builder() : PagedMemory.builder(Path.of(socket));
        String uids = System.getProperty("uffd4j.test.pagerUids");
        if (uids != null) {
            b.pagerUids(java.util.Arrays.stream(uids.split(",")).mapToInt(Integer::parseInt).toArray());
        }
        return b;
    }
}
