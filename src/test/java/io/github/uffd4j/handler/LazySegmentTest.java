package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LazySegmentTest {

    private static final long SEED = 42;

    @Test
    void randomReadsSeeTheSourceContentsAndLoadOnlyWhatIsNeeded() throws Exception {
        long size = 64L << 20;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).faultAround(PAGE).open()) {
            assertEquals(0, data.region().presentPages());
            SplittableRandom rnd = new SplittableRandom(1);
            for (int i = 0; i < 500; i++) {
                long off = rnd.nextLong(size / 8) * 8;
                assertEquals(Data.word(SEED, off), data.getLong(off), "word at " + off);
            }
            settle(data);
            FaultStats s = data.stats();
            assertTrue(s.faults() >= 1 && s.faults() <= 500, s::toString);
            assertTrue(data.region().presentPages() <= 500, data.region()::toString);
            assertEquals(s.pagesLoaded(), data.region().presentPages(), s::toString);
            assertEquals(0, s.failures());
        }
    }

    @Test
    void aFaultLoadsTheAlignedFaultAroundBlock() throws Exception {
        try (LazySegment data = LazySegment.builder(4L << 20, Data.source(SEED)).faultAround(16 * PAGE).open()) {
            long off = 37 * PAGE + 100;
            data.getByte(off);
            settle(data);
            assertEquals(16, data.region().presentPages());
            assertTrue(data.isLoaded(32 * PAGE, 16 * PAGE));
            assertFalse(data.isLoaded(31 * PAGE, 1));
            assertFalse(data.isLoaded(48 * PAGE, 1));
            assertEquals(1, data.stats().faults());
        }
    }

    @Test
    void aSequentialScanGrowsTheReadaheadBlock() throws Exception {
        long size = 32L << 20;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).faultAround(4 * PAGE).maxReadahead(1L << 20).open()) {
            for (long off = 0; off < size; off += PAGE) {
                data.getLong(off);
            }
            settle(data);
            FaultStats s = data.stats();
            long pages = size / PAGE;
            assertEquals(pages, s.pagesLoaded());
            // 4, 8, 16, ... 256 pages then 256 at a time: far fewer faults than pages
            assertTrue(s.faults() < pages / 100, s::toString);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
        }
    }

    @Test
    void randomFaultsKeepTheBlockSmall() {
        long size = 64L << 20;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).faultAround(2 * PAGE).maxReadahead(1L << 20).open()) {
            SplittableRandom rnd = new SplittableRandom(7);
            for (int i = 0; i < 200; i++) {
                data.getByte(rnd.nextLong(size));
            }
            FaultStats s = data.stats();
            assertTrue(s.pagesLoaded() <= 2 * s.faults(), s::toString);
        }
    }

    @Test
    void theBackgroundFillerLoadsEveryPageExactlyOnceWhileFaultsAreServed() throws Exception {
        long size = 64L << 20;
        AtomicIntegerArray perPage = new AtomicIntegerArray((int) (size / PAGE));
        try (LazySegment data = LazySegment.builder(size, Data.counting(SEED, PAGE, perPage)).backgroundFill(true).open()) {
            SplittableRandom rnd = new SplittableRandom(3);
            for (int i = 0; i < 2000; i++) {
                long off = rnd.nextLong(size / 8) * 8;
                assertEquals(Data.word(SEED, off), data.getLong(off));
            }
            assertTrue(data.service().awaitBackgroundFill(Duration.ofSeconds(60)), data.region()::toString);
            assertTrue(data.region().isFullyLoaded());
            FaultStats s = data.stats();
            assertEquals(size / PAGE, s.pagesLoaded() + s.backgroundPages(), s::toString);
            assertTrue(s.backgroundPages() > 0, s::toString);
            for (int p = 0; p < perPage.length(); p++) {
                assertEquals(1, perPage.get(p), "page " + p + " filled " + perPage.get(p) + " times");
            }
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
        }
    }

    @Test
    void sharedMemoryIsServedInMinorModeThroughTheAlias() {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        long size = 8L << 20;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).shared(true).open()) {
            for (long off = 0; off < size; off += 3 * PAGE + 8) {
                assertEquals(Data.word(SEED, off & -8), data.getLong(off & -8));
            }
            data.load(0, size);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
            assertEquals(-1, Data.firstMismatch(SEED, data.sharedMemory().alias().segment(), 0, size));
            assertEquals(0, data.stats().failures());
        }
    }

    @Test
    void hugetlbMemoryIsServedAHugePageAtATime() throws Exception {
        TestSupport.assumeFeature(Feature.MISSING_HUGETLBFS);
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 8);
        long size = 8L << 21;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).hugePages(HugePageSize.SIZE_2MB).faultAround(0).open()) {
            assertEquals(Data.word(SEED, 3L << 21), data.getLong(3L << 21));
            settle(data);
            assertEquals(1, data.region().presentPages());
            data.load(0, size);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
        }
    }

    @Test
    void copyAndSliceLoadFirst() {
        try (LazySegment data = LazySegment.open(1L << 20, Data.source(SEED)); Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(3 * PAGE);
            data.copyTo(PAGE + 8, dst);
            assertEquals(-1, firstMismatchShifted(dst, PAGE + 8));
            MemorySegment slice = data.slice(5 * PAGE, PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 5 * PAGE, PAGE));
            assertEquals(PAGE, slice.byteSize());
            byte[] bytes = new byte[16];
            data.copyTo(16, bytes, 0, 16);
        }
    }

    /**
     * The kernel wakes a reader as soon as its page is mapped, a moment before the handler thread
     * records it: wait until the handler threads are idle before reading the counters.
     */
    static void settle(LazySegment data) throws InterruptedException {
        long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
        long last = -1;
        while (System.nanoTime() < deadline) {
            FaultStats s = data.stats();
            long now = s.pagesLoaded() + s.backgroundPages();
            if (now == last && data.region().presentPages() == now) {
                return;
            }
            last = now;
            Thread.sleep(20);
        }
    }

    private static long firstMismatchShifted(MemorySegment dst, long base) {
        for (long o = 0; o < dst.byteSize(); o += 8) {
            if (dst.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, o) != Data.word(SEED, base + o)) {
                return o;
            }
        }
        return -1;
    }

    @Test
    void closedSegmentsRefuseAccessAndBoundsAreChecked() {
        LazySegment data = LazySegment.open(1L << 20, Data.source(SEED));
        assertThrows(IndexOutOfBoundsException.class, () -> data.getLong((1L << 20) - 4));
        assertThrows(IndexOutOfBoundsException.class, () -> data.getByte(-1));
        data.close();
        data.close();
        assertThrows(IllegalStateException.class, () -> data.getByte(0));
    }
}
