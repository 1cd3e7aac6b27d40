package io.github.uffd4j.snapshot;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.handler.LazySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Incremental snapshots with writers in plain JIT-compiled Java (WP_ASYNC: no write waits for a
 * handler): a chain of a base and increments, each taken while two writers stamp whole pages with
 * a global sequence number, restores to exactly the state at each snapshot's pause.
 */
class TrackedSnapshotsTest {

    private static final int PAGES = 8192;
    private static final long PS = 4096;

    @TempDir
    Path dir;

    private static void assume() {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
    }

    private static long[] stamps(SnapshotChain chain) throws Exception {
        try (Mapping m = Memory.anonymous(PAGES * PS)) {
            chain.restore(m.segment());
            long[] out = new long[PAGES];
            for (int p = 0; p < PAGES; p++) {
                long first = m.segment().get(ValueLayout.JAVA_LONG, p * PS);
                for (long o = 8; o < PS; o += 8) {
                    if (m.segment().get(ValueLayout.JAVA_LONG, p * PS + o) != first) {
                        throw new AssertionError("page " + p + " is torn: " + first + " then " + m.segment().get(ValueLayout.JAVA_LONG, p * PS + o));
                    }
                }
                out[p] = first;
            }
            return out;
        }
    }

    @Test
    void aChainOfIncrementsTakenWhileJavaWritersRunRestoresToEachPause() throws Exception {
        assume();
        List<Path> files = new ArrayList<>();
        List<Long> pauses = new ArrayList<>();
        List<TrackedSnapshots.Result> results = new ArrayList<>();
        StampingWriters writers;
        try (Mapping m = Memory.anonymous(PAGES * PS); TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
            writers = new StampingWriters(PAGES, 4_000_000, (writer, page, stamp) -> {
                for (long o = 0; o < PS; o += 8) {
                    m.segment().set(ValueLayout.JAVA_LONG, page * PS + o, stamp); // a plain Java store
                }
            });
            try (writers) {
                for (int k = 0; k < 3; k++) {
                    Thread.sleep(30);
                    Path f = dir.resolve("snap-" + k + ".u4s");
                    results.add(t.snapshot(f, writers));
                    files.add(f);
                    pauses.add(writers.atPause());
                }
                Thread.sleep(20); // writes after the last snapshot too
            }
        }
        assertEquals(List.of(), writers.errors);
        for (TrackedSnapshots.Result r : results) {
            System.out.printf("%s: %s, rounds %s, %d pages stored, pause %.2f ms%n", r.file().getFileName(), r.full() ? "full" : "increment",
                    r.pagesPerRound(), r.pagesStored(), r.pause().toNanos() / 1e6);
        }
        assertTrue(results.get(0).full() && !results.get(1).full() && results.get(1).parentId() == results.get(0).id());
        for (Path f : files) { // pages rewritten by later rounds overwrite their slot: no file outgrows the memory
            assertTrue(Files.size(f) <= SnapshotFormat.HEADER + PAGES * PS + PAGES * SnapshotFormat.ENTRY, f + ": " + Files.size(f));
        }
        assertTrue(writers.writes() > pauses.get(2), "the writers went on after the last snapshot");
        for (int k = 0; k < 3; k++) {
            try (SnapshotChain chain = SnapshotChain.open(files.subList(0, k + 1))) {
                assertArrayEquals(writers.stateAt(pauses.get(k)), stamps(chain), "the chain up to snapshot " + k);
            }
        }
        // compaction: one full file equal to the whole chain, which also restores lazily
        Path compact = dir.resolve("compact.u4s");
        try (SnapshotChain chain = SnapshotChain.open(files)) {
            chain.compact(compact);
        }
        try (SnapshotChain one = SnapshotChain.open(List.of(compact))) {
            assertArrayEquals(writers.stateAt(pauses.get(2)), stamps(one));
        }
        long[] want = writers.stateAt(pauses.get(2));
        try (SnapshotFile f = SnapshotFile.open(compact); LazySegment lazy = LazySegment.open(PAGES * PS, f)) {
            for (int p = 0; p < PAGES; p += 97) {
                assertEquals(want[p], lazy.getLong(p * PS + 64), "page " + p + " restored lazily");
            }
        }
    }

    @Test
    void anIncrementStoresOnlyThePagesWrittenSinceThePreviousSnapshot() throws Exception {
        assume();
        try (Mapping m = Memory.anonymous(PAGES * PS); TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
            m.segment().fill((byte) 3);
            TrackedSnapshots.Result base = t.snapshot(dir.resolve("base.u4s"), Quiesce.NONE);
            assertEquals(PAGES, base.pagesStored());
            for (int p : new int[] {1, 5, 4000, 8191}) {
                m.segment().set(ValueLayout.JAVA_LONG, p * PS + 16, 99);
            }
            TrackedSnapshots.Result inc = t.snapshot(dir.resolve("inc.u4s"), Quiesce.NONE);
            assertEquals(4, inc.pagesStored(), inc.toString());
            assertTrue(Files.size(dir.resolve("inc.u4s")) < 6 * PS, "an increment of 4 pages is about 4 pages long");
            TrackedSnapshots.Result none = t.snapshot(dir.resolve("none.u4s"), Quiesce.NONE);
            assertEquals(0, none.pagesStored());
        }
    }

    @Test
    void aBrokenChainIsRefusedSayingWhichLink() throws Exception {
        assume();
        try (Mapping m = Memory.anonymous(64 * PS); TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
            for (int k = 0; k < 3; k++) {
                m.segment().set(ValueLayout.JAVA_LONG, k * PS, k + 1);
                t.snapshot(dir.resolve(k + ".u4s"), Quiesce.NONE);
            }
        }
        SnapshotException missing = assertThrows(SnapshotException.class,
                () -> SnapshotChain.open(List.of(dir.resolve("0.u4s"), dir.resolve("2.u4s"))));
        assertTrue(missing.getMessage().contains("missing or out of order"), missing.getMessage());
        SnapshotException noBase = assertThrows(SnapshotException.class, () -> SnapshotChain.open(List.of(dir.resolve("1.u4s"))));
        assertTrue(noBase.getMessage().contains("not a full snapshot"), noBase.getMessage());
        SnapshotException alone = assertThrows(SnapshotException.class, () -> SnapshotFile.open(dir.resolve("1.u4s")));
        assertTrue(alone.getMessage().contains("increment"), alone.getMessage());
        try (SnapshotChain ok = SnapshotChain.open(List.of(dir.resolve("0.u4s"), dir.resolve("1.u4s"), dir.resolve("2.u4s")));
             Mapping r = Memory.anonymous(64 * PS)) {
            ok.restore(r.segment());
            for (int k = 0; k < 3; k++) {
                assertEquals(k + 1, r.segment().get(ValueLayout.JAVA_LONG, k * PS));
            }
            assertFalse(r.segment().get(ValueLayout.JAVA_LONG, 3 * PS) != 0);
        }
    }
}
