package io.github.uffd4j.pager;

import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The app of {@link PagerTest}'s region tests, in a child JVM: two threads read a 16 MiB region
 * over and over with plain Java code (checking every word) while the main thread maps, checks,
 * writes, discards (MADV_DONTNEED: a REMOVE event for the pager) and closes eight more regions
 * one after another; one of them also loses its last MiB to a plain munmap (an UNMAP event)
 * before it is closed. Prints {@code RESULT bad=N scans=N regions=N}.
 *
 * <p>Arguments: SOCKET
 */
public final class PagerRegionsChild {

    private static final long PAGE = 4096;

    public static void main(String[] args) throws Exception {
        AtomicLong bad = new AtomicLong();
        AtomicLong scans = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        int regions = 0;
        try (PagedMemory pager = PagedMemory.connect(Path.of(args[0]))) {
            MemorySegment a = pager.map("steady", 16L << 20, URI.create("pattern:1")).segment();
            Thread[] readers = new Thread[2];
            for (int t = 0; t < readers.length; t++) {
                readers[t] = Thread.ofPlatform().start(() -> {
                    while (!stop.get()) {
                        bad.addAndGet(wrongWords(a, 1, 0, a.byteSize()));
                        scans.incrementAndGet();
                    }
                });
            }
            for (int i = 0; i < 8; i++) {
                long seed = 100 + i;
                long size = 8L << 20;
                PagedMemory.Region r = pager.map("churn-" + i, size, URI.create("pattern:" + seed));
                MemorySegment m = r.segment();
                bad.addAndGet(wrongWords(m, seed, 0, size));
                for (long o = 0; o < size; o += PAGE) {
                    m.set(ValueLayout.JAVA_LONG, o, -1L);
                }
                r.discard(0, size / 2); // REMOVE: the first half comes from the source again
                bad.addAndGet(wrongWords(m, seed, 0, size / 2));
                for (long o = size / 2; o < size; o += PAGE) {
                    if (m.get(ValueLayout.JAVA_LONG, o) != -1L) {
                        bad.incrementAndGet(); // the second half keeps what was written
                    }
                }
                if (i == 3) {
                    long tail = 1L << 20;
                    if (Native.munmap(m.address() + size - tail, tail) != 0) { // UNMAP, behind the library's back
                        throw new IllegalStateException("munmap failed: errno " + Native.errno());
                    }
                }
                r.close();
                regions++;
            }
            stop.set(true);
            for (Thread t : readers) {
                t.join();
            }
        }
        System.out.printf("RESULT bad=%d scans=%d regions=%d%n", bad.get(), scans.get(), regions);
    }

    private static long wrongWords(MemorySegment m, long seed, long from, long to) {
        long wrong = 0;
        for (long o = from; o < to; o += 8) {
            if (m.get(ValueLayout.JAVA_LONG, o) != Sources.patternWord(seed, o)) {
                wrong++;
            }
        }
        return wrong;
    }
}
