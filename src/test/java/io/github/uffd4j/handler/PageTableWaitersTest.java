package io.github.uffd4j.handler;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The waiter notes of {@link PageTable} (the lost-wake fix): a fault left to a loader is noted
 * only while the page loads, and the loader takes exactly the notes of its range, across the
 * 64-page words of the bit set.
 */
class PageTableWaitersTest {

    @Test
    void aFaultIsLeftToTheLoaderOnlyWhileThePageLoads() {
        PageTable t = new PageTable(256, true);
        assertFalse(t.awaitLoad(7), "a missing page is not loading: the handler must look at it again");
        assertTrue(t.claim(7));
        assertTrue(t.awaitLoad(7), "loading: left to the loader");
        t.markPresent(7, 8, t.zapEpoch());
        assertTrue(t.takeWaiters(7, 8), "the loader finds the note");
        assertFalse(t.takeWaiters(7, 8), "and takes it: once");
    }

    @Test
    void aLoaderTakesTheNotesOfItsRangeOnlyAcrossWords() {
        PageTable t = new PageTable(256, true);
        for (int p : new int[] {5, 63, 64, 130, 255}) {
            assertTrue(t.claim(p));
            assertTrue(t.awaitLoad(p));
        }
        assertFalse(t.takeWaiters(6, 63), "no note in [6, 63)");
        assertFalse(t.takeWaiters(65, 65), "an empty range");
        assertTrue(t.takeWaiters(60, 65), "63 and 64, across a word boundary");
        assertFalse(t.takeWaiters(63, 65), "taken");
        assertTrue(t.takeWaiters(0, 6), "5 was left alone");
        assertTrue(t.takeWaiters(255, 256), "the last page of the last word");
        assertTrue(t.takeWaiters(0, 256), "130 is still there");
        assertFalse(t.takeWaiters(0, 256), "nothing left");
    }
}
