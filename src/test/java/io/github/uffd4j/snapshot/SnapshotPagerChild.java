package io.github.uffd4j.snapshot;

import io.github.uffd4j.pager.PagedMemory;
import io.github.uffd4j.pager.Sources;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The app of {@link SnapshotRestoreByPagerTest}, in a child JVM: maps SIZE bytes that a pager it
 * launches restores from the snapshot chain FILES ({@code snapshot:} URI), and reads every word
 * with plain Java code on two threads while another calls System.gc() in a loop. Prints RESULT.
 *
 * <p>Arguments: SIZE SEED FILES (comma separated, oldest first).
 */
public final class SnapshotPagerChild {

    private SnapshotPagerChild() {
    }

    /** The word the snapshotted memory held at {@code offset}: the pattern, with the first word of every 7th page inverted. */
    static long expected(long seed, long offset) {
        long w = Sources.patternWord(seed, offset);
        return offset % 4096 == 0 && (offset / 4096) % 7 == 0 ? ~w : w;
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        long seed = Long.parseLong(args[1]);
        AtomicBoolean done = new AtomicBoolean();
        Thread gc = Thread.ofPlatform().daemon().start(() -> {
            while (!done.get()) {
                System.gc();
            }
        });
        try (PagedMemory pager = PagedMemory.builder().connect()) {
            MemorySegment m = pager.map("restored", size, URI.create("snapshot:" + args[2])).segment();
            AtomicLong bad = new AtomicLong();
            Thread[] readers = new Thread[2];
            for (int t = 0; t < readers.length; t++) {
                int me = t;
                readers[t] = Thread.ofPlatform().start(() -> {
                    for (long o = me * 8L; o < size; o += 16) {
                        if (m.get(ValueLayout.JAVA_LONG, o) != expected(seed, o)) {
                            bad.incrementAndGet();
                        }
                    }
                });
            }
            for (Thread t : readers) {
                t.join();
            }
            done.set(true);
            System.out.printf("RESULT words=%d bad=%d loaded=%d failures=%d%n", size / 8, bad.get(),
                    pager.stats().pagesLoaded() + pager.stats().backgroundPages(), pager.stats().failures());
        }
    }
}
