package io.github.uffd4j.pager;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The app of {@link PagerTest}'s pager-death tests, run in a child JVM: maps SIZE bytes from
 * SOURCE (whose words are {@code Sources.patternWord(SEED, offset)}), has THREADS threads read
 * every word with plain Java code under a System.gc() loop, and once a quarter of the pages are
 * read prints {@code KILL <pager pid>} and slows down for half a second, so that the test can kill the pager while
 * the threads still fault. A page whose access raises InternalError (poisoned) is counted as an
 * error. A page where a wrong word was read is checked again at the end through the kernel
 * (process_vm_readv, which reports a poisoned page as an error instead of a signal): HotSpot
 * raises the InternalError of a poisoned access in compiled code asynchronously, so a loop may see
 * a bogus value or two (zeros) first. Only a page that reads back wrong through the kernel too
 * (a zero page) counts as bad. After the scan it
 * waits for the pager events to settle and prints
 * {@code RESULT pages=N bad=N errors=N events=KIND,KIND}.
 *
 * <p>Arguments: SOCKET SIZE SEED THREADS RECONNECT_SECONDS SOURCE EXPECT_LOSS (true: wait for the pager's loss
 * to be reported and settled before printing) [BACKING]
 */
public final class PagerSurvivorChild {

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[1]);
        long seed = Long.parseLong(args[2]);
        int threads = Integer.parseInt(args[3]);
        Duration reconnect = Duration.ofSeconds(Long.parseLong(args[4]));
        URI source = URI.create(args[5]);
        boolean expectLoss = Boolean.parseBoolean(args[6]);
        RegionSpec.Backing backing = args.length > 7 ? RegionSpec.Backing.valueOf(args[7]) : RegionSpec.Backing.ANONYMOUS;
        List<PagedMemory.PagerEvent> events = new CopyOnWriteArrayList<>();
        List<Long> eventTimes = new CopyOnWriteArrayList<>();
        AtomicBoolean done = new AtomicBoolean();
        Thread gc = Thread.ofPlatform().daemon().start(() -> {
            while (!done.get()) {
                System.gc();
            }
        });
        try (PagedMemory pager = PagerAppChild.builder(args[0]).reconnectTimeout(reconnect).onPagerEvent(e -> {
            eventTimes.add(System.nanoTime());
            events.add(e);
        }).connect()) {
            MemorySegment m = pager.map("survivor", size, source, backing, null).segment();
            long page = 4096;
            long pages = size / page;
            AtomicLong read = new AtomicLong();
            AtomicLong bad = new AtomicLong();
            AtomicLong errors = new AtomicLong();
            AtomicLong firstBad = new AtomicLong(-1);
            java.util.Set<Long> suspects = java.util.concurrent.ConcurrentHashMap.newKeySet();
            AtomicBoolean told = new AtomicBoolean();
            AtomicLong toldAt = new AtomicLong(Long.MAX_VALUE);
            Thread[] ts = new Thread[threads];
            for (int t = 0; t < threads; t++) {
                int me = t;
                ts[t] = Thread.ofPlatform().start(() -> {
                    for (long p = me; p < pages; p += threads) {
                        long base = p * page;
                        try {
                            for (long o = 0; o < page; o += 8) {
                                if (m.get(ValueLayout.JAVA_LONG, base + o) != Sources.patternWord(seed, base + o)) {
                                    suspects.add(p);
                                }
                            }
                        } catch (InternalError poisoned) {
                            errors.incrementAndGet();
                        }
                        long n = read.incrementAndGet();
                        if (n >= pages / 4) {
                            if (told.compareAndSet(false, true)) {
                                toldAt.set(System.nanoTime());
                                System.out.println("KILL " + pager.pagerPid());
                                System.out.flush();
                            }
                            if (p % 8 == 0 && System.nanoTime() - toldAt.get() < 500_000_000L) {
                                sleep(1); // slow down for half a second: the kill lands while pages are still missing
                            }
                        }
                    }
                });
            }
            for (Thread t : ts) {
                t.join();
            }
            done.set(true);
            long garbage = 0;
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment copy = arena.allocate(page);
                for (long p : suspects) {
                    try {
                        io.github.uffd4j.Memory.readThroughKernel(m.address() + p * page, copy);
                    } catch (io.github.uffd4j.UffdException poisoned) {
                        garbage++; // poisoned: the wrong words were read before its InternalError arrived
                        continue;
                    }
                    for (long o = 0; o < page; o += 8) {
                        if (copy.get(ValueLayout.JAVA_LONG, o) != Sources.patternWord(seed, p * page + o)) {
                            bad.incrementAndGet();
                            firstBad.compareAndSet(-1, p * page + o);
                        }
                    }
                }
            }
            System.out.println("pages with a bogus value before their InternalError: " + garbage);
            long deadline = System.nanoTime() + reconnect.toNanos() + 20_000_000_000L;
            while (expectLoss && !settled(events) && System.nanoTime() < deadline) {
                sleep(50);
            }
            StringBuilder kinds = new StringBuilder();
            events.forEach(e -> kinds.append(kinds.isEmpty() ? "" : ",").append(e.kind()));
            if (eventTimes.size() >= 2) {
                System.out.printf("LOST to %s: %d ms%n", events.get(1).kind(), (eventTimes.get(1) - eventTimes.get(0)) / 1_000_000);
            }
            if (bad.get() > 0) {
                System.out.printf("first wrong word at offset %d (page %d)%n", firstBad.get(), firstBad.get() / page);
            }
            System.out.printf("RESULT pages=%d bad=%d errors=%d events=%s%n", pages, bad.get(), errors.get(), kinds);
            System.out.flush();
        }
        gc.join();
    }

    private static boolean settled(List<PagedMemory.PagerEvent> events) {
        return !events.isEmpty() && events.getLast().kind() != PagedMemory.PagerEvent.Kind.LOST;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
