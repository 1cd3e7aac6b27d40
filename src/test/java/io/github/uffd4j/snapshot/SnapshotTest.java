package io.github.uffd4j.snapshot;

import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageLoadException;
import io.github.uffd4j.source.Compression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live snapshots against the real kernel: writers stamp every write with a global sequence number
 * and keep writing while a snapshot is taken at sequence S; every page of the snapshot must hold
 * exactly its state at S. Writers write whole pages through the kernel
 * ({@link Memory#writeThroughKernel}), as the API requires of Java code.
 */
class SnapshotTest {

    @TempDir
    Path dir;

    enum Kind { ANONYMOUS, SHARED, HUGETLB }

    /** Memory of {@code kind}: its segment, closed with it. */
    private record Mem(MemorySegment segment, AutoCloseable owner, long pageSize) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            owner.close();
        }
    }

    private static Mem memory(Kind kind, long size) {
        return switch (kind) {
            case ANONYMOUS -> {
                Mapping m = Memory.anonymous(size);
                yield new Mem(m.segment(), m, Memory.pageSize());
            }
            case SHARED -> {
                var m = Memory.shared(size);
                yield new Mem(m.view().segment(), m, Memory.pageSize());
            }
            case HUGETLB -> {
                TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, (int) (size / HugePageSize.SIZE_2MB.bytes()) + 2);
                Mapping m = Memory.hugetlb(size, HugePageSize.SIZE_2MB);
                yield new Mem(m.segment(), m, HugePageSize.SIZE_2MB.bytes());
            }
        };
    }

    /** What the initial contents of page {@code p} say: every word the same, odd pages never touched (zeros). */
    private static long initial(long p) {
        return p % 2 == 0 ? 0x1000_0000_0000L + p : 0;
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void theSnapshotHoldsEveryPageExactlyAsItWasAtTheInstantWhileWritersGoOn(Kind kind) throws Exception {
        pointInTime(kind, Compression.NONE);
    }

    @Test
    void aSnapshotCompressedWhileWritersGoOnHoldsThemExactlyToo() throws Exception {
        Path file = pointInTime(Kind.ANONYMOUS, Compression.ZSTD);
        SnapshotFile.Info info = SnapshotFile.describe(file);
        System.out.println("compressed snapshot: " + info);
        assertTrue(Files.size(file) < info.pagesStored() * info.pageSize() / 4,
                "pages of repeated words compress: " + Files.size(file) + " bytes for " + info.pagesStored() + " pages");
    }

    /** Stamping writers go on while a snapshot is taken; every page of the file must hold its state at the instant. */
    private Path pointInTime(Kind kind, Compression compression) throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        if (kind != Kind.ANONYMOUS) {
            TestSupport.assumeFeature(Feature.WP_HUGETLBFS_SHMEM);
        }
        long size = kind == Kind.HUGETLB ? 32L << 20 : 64L << 20;
        try (Mem m = memory(kind, size)) {
            long ps = m.pageSize();
            int pages = (int) (size / ps);
            for (long p = 0; p < pages; p += 2) {
                m.segment().asSlice(p * ps, ps).fill((byte) 0); // touched, then stamped
                for (long o = 0; o < ps; o += 8) {
                    m.segment().set(ValueLayout.JAVA_LONG, p * ps + o, initial(p));
                }
            }
            Path file = dir.resolve("snap-" + kind + "-" + compression + ".u4s");
            Snapshot snap;
            StampingWriters writers;
            try (LiveSnapshots snaps = LiveSnapshots.of(m.segment(), ps); Arena arena = Arena.ofShared()) {
                MemorySegment[] buffers = {arena.allocate(ps, 8), arena.allocate(ps, 8)}; // one per writer
                writers = new StampingWriters(pages, 400_000, (writer, page, stamp) -> {
                    MemorySegment buf = buffers[writer];
                    for (long o = 0; o < ps; o += 8) {
                        buf.set(ValueLayout.JAVA_LONG, o, stamp);
                    }
                    Memory.writeThroughKernel(m.segment().address() + page * ps, buf);
                });
                try (writers) {
                    Thread.sleep(50); // writers under way
                    snap = snaps.snapshot(file, writers, compression);
                    assertEquals(file, snap.await(Duration.ofMinutes(2)));
                    Thread.sleep(20);
                }
            }
            assertEquals(List.of(), writers.errors);
            long s = writers.atPause();
            assertTrue(s > 0 && writers.writes() > s, "writes before and after the instant: " + s + " of " + writers.writes());
            // what every page held at S: its last write with a sequence number <= S, or its initial contents
            long[] expect = writers.stateAt(s);
            for (int p = 0; p < pages; p++) {
                if (expect[p] == 0) {
                    expect[p] = initial(p);
                }
            }
            Snapshot.Progress pr = snap.progress();
            System.out.printf("%s: instant at write %d of %d, pause %.2f ms, %s%n", kind, s, writers.writes(), snap.pause().toNanos() / 1e6, pr);
            assertEquals(pages, pr.savedInBackground() + pr.savedBeforeWrite(), pr.toString());
            try (SnapshotFile f = SnapshotFile.open(file); Mapping restored = Memory.anonymous(size)) {
                f.verify();
                f.restore(restored.segment());
                for (int p = 0; p < pages; p++) {
                    for (long o = 0; o < ps; o += 8) {
                        long got = restored.segment().get(ValueLayout.JAVA_LONG, p * ps + o);
                        if (got != expect[p]) {
                            throw new AssertionError("page " + p + " word " + o / 8 + ": " + got + ", at the instant it held " + expect[p]);
                        }
                    }
                }
                if (ps == Memory.pageSize()) { // lazily too
                    try (LazySegment lazy = LazySegment.open(size, f)) {
                        for (int p = 0; p < pages; p += 7) {
                            assertEquals(expect[p], lazy.getLong(p * ps + 8 * (p % 512)), "page " + p + " restored lazily");
                        }
                    }
                }
            }
            return file;
        }
    }

    @Test
    void aDamagedOrTruncatedFileIsAnErrorNeverWrongBytes() throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        long ps = Memory.pageSize();
        Path file = dir.resolve("s.u4s");
        try (Mapping m = Memory.anonymous(32 * ps)) {
            for (int p = 0; p < 32; p++) {
                m.segment().set(ValueLayout.JAVA_LONG, p * ps, p + 1);
            }
            try (LiveSnapshots snaps = LiveSnapshots.of(m.segment())) {
                snaps.snapshot(file, Quiesce.NONE).await(Duration.ofSeconds(30));
            }
        }
        byte[] good = Files.readAllBytes(file);
        // a flipped bit in page 5's stored bytes
        try (SnapshotFile f = SnapshotFile.open(file)) {
            assertEquals(32, f.pagesStored());
        }
        Path flipped = dir.resolve("flipped.u4s");
        byte[] b = good.clone();
        b[SnapshotFormat.HEADER + 5 * (int) ps + 100] ^= 0x10;
        Files.write(flipped, b);
        try (SnapshotFile f = SnapshotFile.open(flipped)) {
            SnapshotException e = assertThrows(SnapshotException.class, f::verify);
            assertTrue(e.getMessage().contains("page 5 ") && e.getMessage().contains("checksum mismatch"), e.getMessage());
            try (LazySegment lazy = LazySegment.builder(32 * ps, f).backgroundFill(false).faultAround(ps).maxReadahead(ps).open()) {
                assertEquals(5, lazy.getLong(4 * ps));
                assertThrows(PageLoadException.class, () -> lazy.getLong(5 * ps));
                assertEquals(7, lazy.getLong(6 * ps));
            }
        }
        // truncated, another version, not a snapshot, a damaged header
        Files.write(flipped, java.util.Arrays.copyOf(good, good.length - 10));
        assertOpenFails(flipped, "truncated");
        b = good.clone();
        b[8] = 3;
        Files.write(flipped, b);
        assertOpenFails(flipped, "version 3");
        Files.writeString(flipped, "hello, this is not a snapshot at all, but long enough to have a header of 64 bytes...");
        assertOpenFails(flipped, "not a uffd4j snapshot");
        b = good.clone();
        b[20] ^= 1;
        Files.write(flipped, b);
        assertOpenFails(flipped, "header checksum mismatch");
    }

    private static void assertOpenFails(Path f, String why) {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(f).close());
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void oneAtATimeAndAnAbandonedSnapshotLeavesNoFileUnderItsName() throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        long size = 256L << 20;
        Path file = dir.resolve("abandoned.u4s");
        try (Mapping m = Memory.anonymous(size)) {
            m.segment().fill((byte) 1); // every page stored: the background save takes a while
            Snapshot s;
            try (LiveSnapshots snaps = LiveSnapshots.of(m.segment())) {
                s = snaps.snapshot(file, Quiesce.NONE);
                assertThrows(IllegalStateException.class, () -> snaps.snapshot(dir.resolve("second.u4s"), Quiesce.NONE));
            }
            assertTrue(s.isDone());
            if (s.completion().isCompletedExceptionally()) {
                assertFalse(Files.exists(file), "an abandoned snapshot left a file under its name");
                SnapshotException e = assertThrows(SnapshotException.class, () -> s.await(Duration.ofSeconds(1)));
                assertTrue(e.getMessage().contains("abandoned"), e.getMessage());
            } else {
                System.out.println("the snapshot finished before close: nothing abandoned");
            }
            try (var left = Files.list(dir)) {
                assertTrue(left.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "a temporary file was left");
            }
            // nothing is left protected: a write goes through (through the kernel, so that a page left
            // protected would stop only this thread, in a system call, not the JVM)
            Thread w = Thread.ofPlatform().daemon().start(() -> {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment v = a.allocate(8);
                    v.set(ValueLayout.JAVA_LONG, 0, 42);
                    Memory.writeThroughKernel(m.address() + 12345 * 8, v);
                }
            });
            w.join(10_000);
            assertFalse(w.isAlive(), "a write to the memory after close waits: a page was left protected");
            assertEquals(42, m.segment().get(ValueLayout.JAVA_LONG, 12345 * 8));
        }
    }
}
