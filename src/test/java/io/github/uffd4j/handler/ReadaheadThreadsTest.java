package io.github.uffd4j.handler;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.Set;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Readahead threads ({@link FaultService.Builder#readaheadThreads}): they load ahead of a
 * sequential reader, every byte right and every page once; a failure of theirs is silent until a
 * reader wants the page; closing does not wait for a slow load of theirs past the close timeout.
 */
class ReadaheadThreadsTest {

    private static final long SEED = 31;
    private static final long MIB = 1L << 20;

    @Test
    void aSequentialReaderIsServedAheadByTheReadaheadThreads() throws Exception {
        long size = 64 * MIB;
        Set<String> fillers = ConcurrentHashMap.newKeySet();
        PageSource slow = (offset, dst) -> {
            fillers.add(Thread.currentThread().getName().replaceAll("-[0-9]+-[0-9]+$", ""));
            Thread.sleep(1);
            Data.fill(SEED, offset, dst);
        };
        try (LazySegment data = LazySegment.builder(size, slow).readaheadThreads(2).open()) {
            for (long off = 0; off < size; off += MIB) {
                data.load(off, MIB);
            }
            LazySegmentTest.settle(data);
            FaultStats s = data.stats();
            assertEquals(size / PAGE, s.pagesLoaded() + s.backgroundPages(), s::toString);
            assertEquals(0, s.backgroundPages(), () -> "readahead pages count as the fault path's: " + s);
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, size));
            assertTrue(fillers.contains("uffd4j-readahead"), () -> "fills ran on " + fillers + ": " + s);
        }
    }

    @Test
    void aReadaheadFailureIsSilentUntilAReaderWantsThePage() throws Exception {
        long size = 32 * MIB;
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        long bad = 16 * MIB; // the source fails for [16 MiB, 20 MiB)
        PageSource source = (offset, dst) -> {
            if (offset < bad + 4 * MIB && offset + dst.byteSize() > bad) {
                throw new IOException("bad range at " + offset);
            }
            Data.fill(SEED, offset, dst);
        };
        try (LazySegment data = LazySegment.builder(size, source).readaheadThreads(2).onFailure(failures::add)
                .failurePolicy(FailurePolicy.DEFAULT.withRetries(0)).open()) {
            for (long off = 0; off < bad; off += MIB) {
                data.load(off, MIB);
            }
            LazySegmentTest.settle(data);
            Thread.sleep(100); // readahead threads ran into the bad range meanwhile
            // A reader's own fault may load a block that reaches into the bad range: the page it wanted is
            // then retried alone and served (reported RETRIED). Nothing else may be reported yet.
            List<FaultFailure> unasked = failures.stream()
                    .filter(f -> f.offset() >= bad || f.outcome() != FaultFailure.Outcome.RETRIED).toList();
            assertTrue(unasked.isEmpty(), () -> "nobody asked for those pages yet: " + unasked);
            failures.clear();
            assertEquals(-1, Data.firstMismatch(SEED, data.segment(), 0, bad), "every page a reader loaded is right");
            assertFalse(data.isLoaded(bad, PAGE));
            assertThrows(RuntimeException.class, () -> data.getLong(bad + 8));
            assertFalse(failures.isEmpty(), "the page a reader wanted fails, and is reported");
            assertEquals(Data.word(SEED, bad + 4 * MIB), data.getLong(bad + 4 * MIB));
        }
    }

    @Test
    void closingDoesNotWaitForASlowReadaheadLoadPastTheCloseTimeout() throws Exception {
        long size = 64 * MIB;
        PageSource slow = (offset, dst) -> {
            if (offset >= 8 * MIB) {
                Thread.sleep(60_000);
            }
            Data.fill(SEED, offset, dst);
        };
        LazySegment data = LazySegment.builder(size, slow).readaheadThreads(2).closeTimeout(Duration.ofMillis(300)).open();
        for (long off = 0; off < 8 * MIB; off += MIB) {
            data.load(off, MIB);
        }
        Thread.sleep(100); // a readahead thread is inside the sleeping source now
        long t0 = System.nanoTime();
        data.close();
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(millis < 1_300, "close took " + millis + " ms");
    }
}
