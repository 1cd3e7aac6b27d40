package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Whole huge-page blocks moved into place from the loaders' staging buffers (UFFDIO_MOVE) instead
 * of copied: every byte right, what a source leaves unwritten still zeros although the staging
 * buffer is no longer zeroed where a move emptied it, a page reset inside a moved block loaded
 * again, and memory the kernel will not move into copied instead.
 */
class MoveInstallTest {

    private static final long SEED = 23;
    private static final long MIB = 1L << 20;

    @BeforeEach
    void movesArePossible() {
        TestSupport.assumeFeature(Feature.MOVE);
        boolean thp = HugeUnits.unitBytes() > 0;
        if (!thp) {
            System.out.println("SKIPPED: transparent huge pages are off here (/sys/kernel/mm/transparent_hugepage/enabled"
                    + " says never): loaders copy every block");
        }
        Assumptions.assumeTrue(thp, "transparent huge pages are off");
    }

    @Test
    void aSequentialScanMovesWholeBlocksAndEveryByteIsRight() throws Exception {
        long size = 64 * MIB;
        try (LazySegment data = LazySegment.builder(size, Data.source(SEED)).open()) {
            for (long off = 0; off < size; off += MIB) {
                data.load(off, MIB);
            }
            LazySegmentTest.settle(data);
            FaultStats s = data.stats();
            assertEquals(size / PAGE, s.pagesLoaded() + s.backgroundPages(), s::toString);
            assertTrue(s.pagesMoved() >= size / PAGE / 2, () -> "most pages should be moved whole: " + s);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
            assertEquals(0, s.failures(), s::toString);
        }
    }

    @Test
    void whatASourceLeavesUnwrittenReadsAsZerosAfterMoves() throws Exception {
        long size = 32 * MIB;
        // pages in even 2 MiB blocks are written whole, in odd ones only their first word: a staging
        // buffer that kept the bytes of the block before would show them in the odd blocks
        PageSource partial = (offset, dst) -> {
            for (long i = 0; i < dst.byteSize(); i += PAGE) {
                long o = offset + i;
                if (((o >>> 21) & 1) == 0) {
                    Data.fill(SEED, o, dst.asSlice(i, PAGE));
                } else {
                    dst.set(ValueLayout.JAVA_LONG, i, Data.word(SEED, o));
                }
            }
        };
        try (LazySegment data = LazySegment.builder(size, partial).open()) {
            // random single faults (copied blocks) first, then the sequential scan (moved blocks)
            for (long off = 3 * PAGE; off < size; off += 5 * MIB + 7 * PAGE) {
                data.getByte(off);
            }
            for (long off = 0; off < size; off += MIB) {
                data.load(off, MIB);
            }
            LazySegmentTest.settle(data);
            MemorySegment m = data.segment();
            for (long o = 0; o < size; o += PAGE) {
                if (((o >>> 21) & 1) == 0) {
                    assertEquals(0, Data.wrongBytes(SEED, m.asSlice(o, PAGE), o), "page at " + o);
                } else {
                    assertEquals(Data.word(SEED, o), m.get(ValueLayout.JAVA_LONG, o), "first word at " + o);
                    for (long i = 8; i < PAGE; i += 8) {
                        if (m.get(ValueLayout.JAVA_LONG, o + i) != 0) {
                            throw new AssertionError("stale bytes at " + (o + i) + " of a page its source left unwritten: "
                                    + data.stats());
                        }
                    }
                }
            }
            assertTrue(data.stats().pagesMoved() > 0, data.stats()::toString);
        }
    }

    @Test
    void aPageResetInsideAMovedBlockIsLoadedAgain() throws Exception {
        long size = 8 * MIB;
        AtomicIntegerArray fills = new AtomicIntegerArray((int) (size / PAGE));
        // no readahead threads: their first windows (64 KiB, growing) would cover these 8 MiB in pieces smaller than a block
        try (LazySegment data = LazySegment.builder(size, Data.counting(SEED, PAGE, fills)).readaheadThreads(0).open()) {
            for (long off = 0; off < size; off += MIB) {
                data.load(off, MIB);
            }
            LazySegmentTest.settle(data);
            assertTrue(data.stats().pagesMoved() > 0, data.stats()::toString);
            long off = 4 * MIB + 5 * PAGE; // inside the third 2 MiB block: moved whole
            data.region().reset(off, PAGE);
            assertEquals(Data.word(SEED, off + 8), data.getLong(off + 8));
            assertEquals(2, fills.get((int) (off / PAGE)));
            assertEquals(1, fills.get((int) (off / PAGE) + 1));
            data.load(0, size);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
        }
    }

    @Test
    void memoryTheKernelWillNotMoveIntoIsCopied() throws Exception {
        long size = 16 * MIB;
        try (SharedMemory shm = Memory.shared(size);
             FaultService service = FaultService.builder().start()) {
            Region r = service.region(shm.view().segment()).source(Data.source(SEED)).name("shared-missing")
                    .hugePageBlocks().register(); // not true of shared memory: the kernel refuses the first move
            for (long off = 0; off < size; off += MIB) {
                r.load(off, MIB);
            }
            FaultStats s = service.stats();
            assertEquals(0, s.pagesMoved(), s::toString);
            assertEquals(0, r.moveUnitPages(), "the refused move should have turned moves off for the region");
            assertEquals(0, s.failures(), s::toString);
            assertEquals(-1, Data.firstMismatch(SEED, shm.view().segment(), 0, size));
        }
    }
}
