package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link MadviseBatch}: runs dropped in batches of process_madvise where the kernel takes them,
 * one madvise each where it does not; either way exactly the runs added, and errors named.
 */
class MadviseBatchTest {

    private static final int PAGES = 5000; // more than the 1024 runs of one process_madvise

    @Test
    void everyOtherPageDroppedInBatchesReadsZeroAndTheRestKeepTheirData() {
        try (Mapping m = Memory.anonymous(PAGES * PAGE)) {
            for (int p = 0; p < PAGES; p++) {
                m.segment().set(ValueLayout.JAVA_LONG, p * PAGE, 1000L + p);
            }
            try (MadviseBatch b = m.dontNeedBatch()) {
                for (int p = 0; p < PAGES; p += 2) {
                    b.add(p * PAGE, PAGE);
                }
            }
            for (int p = 0; p < PAGES; p++) {
                long want = p % 2 == 0 ? 0 : 1000L + p;
                assertEquals(want, m.segment().get(ValueLayout.JAVA_LONG, p * PAGE), "page " + p);
            }
            boolean inKernel = MadviseBatch.batchesInKernel();
            System.out.println("MadviseBatch: " + (inKernel ? "process_madvise batches" : "one madvise per run")
                    + " on Linux " + System.getProperty("os.version"));
            if (TestSupport.kernelAtLeast(6, 13)) {
                assertTrue(inKernel, "Linux 6.13+ takes MADV_DONTNEED through process_madvise on the calling process");
            }
        }
    }

    @Test
    void holesPunchedInBatchesLeaveTheSharedMemory() {
        try (SharedMemory s = Memory.shared(64 * PAGE)) {
            Mapping v = s.view();
            for (int p = 0; p < 64; p++) {
                v.segment().set(ValueLayout.JAVA_LONG, p * PAGE, 7L + p);
            }
            try (MadviseBatch b = v.removeBatch()) {
                b.add(0, 4 * PAGE);
                b.add(10 * PAGE, PAGE);
                b.add(63 * PAGE, PAGE);
            }
            assertEquals(0, s.alias().segment().get(ValueLayout.JAVA_LONG, 2 * PAGE), "punched: zeros through the other mapping too");
            assertEquals(0, s.alias().segment().get(ValueLayout.JAVA_LONG, 10 * PAGE));
            assertEquals(0, s.alias().segment().get(ValueLayout.JAVA_LONG, 63 * PAGE));
            assertEquals(7L + 4, s.alias().segment().get(ValueLayout.JAVA_LONG, 4 * PAGE));
            assertEquals(7L + 62, s.alias().segment().get(ValueLayout.JAVA_LONG, 62 * PAGE));
        }
    }

    @Test
    void aRunOutsideTheMappingIsRefusedWhenAdded() {
        try (Mapping m = Memory.anonymous(4 * PAGE); MadviseBatch b = m.dontNeedBatch()) {
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> b.add(3 * PAGE, 2 * PAGE));
            assertTrue(e.getMessage().contains("madvise(MADV_DONTNEED)"), e.getMessage());
        }
    }

    @Test
    void runsPendingWhenTheMappingClosesAreRefusedNotAdvised() {
        Mapping m = Memory.anonymous(4 * PAGE);
        MadviseBatch b = m.dontNeedBatch();
        b.add(0, PAGE);
        m.close();
        try (Mapping other = Memory.anonymous(4 * PAGE)) { // may well take the same addresses
            other.segment().set(ValueLayout.JAVA_LONG, 0, 42);
            IllegalStateException e = assertThrows(IllegalStateException.class, b::close);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            assertEquals(42, other.segment().get(ValueLayout.JAVA_LONG, 0), "nothing of the new mapping was dropped");
        }
    }

    @Test
    void anAdviceTheMemoryRefusesFailsNamingTheCallAndTheErrno() {
        // MADV_REMOVE needs shared memory: on private anonymous memory the kernel says EINVAL, whether the
        // runs went in one process_madvise or one madvise each
        try (Mapping m = Memory.anonymous(8 * PAGE)) {
            MadviseBatch b = m.removeBatch();
            b.add(0, PAGE);
            b.add(4 * PAGE, PAGE);
            UffdException e = assertThrows(UffdException.class, b::close);
            assertEquals("madvise(MADV_REMOVE)", e.call());
            assertEquals("EINVAL", e.errnoName());
            b.close(); // closed already: nothing more
        }
        assertFalse(!MadviseBatch.batchesInKernel() && TestSupport.kernelAtLeast(6, 13),
                "a refused advice must not turn the batching off for everyone");
    }
}
