package io.github.uffd4j.snapshot;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The JVM {@link SnapshotCrashTest} kills: takes snapshots of 32 MiB into a folder, one after the
 * other, while a writer stamps whole pages (every word of a page the same value), until it is
 * killed. Arguments: {@code live} (LiveSnapshots; the writer writes through the kernel) or
 * {@code tracked} (TrackedSnapshots: a full snapshot, then increments; plain Java stores), and the
 * folder. Prints "ready" once the first snapshot started and "done N" after each.
 */
public final class SnapshotCrashChild {

    static final long SIZE = 32L << 20;

    public static void main(String[] args) throws Exception {
        boolean live = args[0].equals("live");
        Path dir = Path.of(args[1]);
        long ps = Memory.pageSize();
        int pages = (int) (SIZE / ps);
        try (Mapping m = Memory.anonymous(SIZE); Arena arena = Arena.ofShared()) {
            MemorySegment s = m.segment();
            for (long o = 0; o < SIZE; o += 8) {
                s.set(ValueLayout.JAVA_LONG, o, 1L);
            }
            ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
            Quiesce writers = Quiesce.of(gate);
            MemorySegment buf = arena.allocate(ps, ps);
            Thread.ofPlatform().daemon().start(() -> {
                SplittableRandom rnd = new SplittableRandom(7);
                for (long stamp = 2; ; stamp++) {
                    long page = rnd.nextInt(pages);
                    gate.readLock().lock();
                    try {
                        if (live) {
                            for (long o = 0; o < ps; o += 8) {
                                buf.set(ValueLayout.JAVA_LONG, o, stamp);
                            }
                            Memory.writeThroughKernel(s.address() + page * ps, buf); // a write that may fault
                        } else {
                            for (long o = 0; o < ps; o += 8) {
                                s.set(ValueLayout.JAVA_LONG, page * ps + o, stamp);
                            }
                        }
                    } finally {
                        gate.readLock().unlock();
                    }
                }
            });
            if (live) {
                try (LiveSnapshots snaps = LiveSnapshots.of(s)) {
                    for (int n = 0; ; n++) {
                        Snapshot snap = snaps.snapshot(dir.resolve("live-" + n + ".u4s"), writers);
                        if (n == 0) {
                            System.out.println("ready");
                        }
                        snap.await(Duration.ofMinutes(1));
                        System.out.println("done " + n);
                    }
                }
            } else {
                try (TrackedSnapshots t = TrackedSnapshots.of(s)) {
                    System.out.println("ready");
                    for (int n = 0; ; n++) {
                        t.snapshot(dir.resolve("tracked-" + n + ".u4s"), writers);
                        System.out.println("done " + n);
                    }
                }
            }
        }
    }
}
