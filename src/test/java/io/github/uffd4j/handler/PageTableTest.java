package io.github.uffd4j.handler;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The page table's rules that decide whether the accessors' fast path may trust it. */
class PageTableTest {

    /**
     * A REMOVE is a reset's own only when it is exactly the reset's span, once: a zap merely inside
     * a running reset's span may be another madvise, whose zap can land after the reset ended.
     */
    @Test
    void onlyTheResetsOwnRemoveIsTakenAsTheServicesZap() {
        PageTable t = new PageTable(64, true);
        long token = t.resetBegins(0, 32);
        assertFalse(t.trusted(), "not trusted while a reset runs");
        assertFalse(t.insideReset(4, 8), "a zap inside the span is not the reset's own");
        assertTrue(t.insideReset(0, 32), "the reset's own REMOVE");
        assertFalse(t.insideReset(0, 32), "a second REMOVE of the same span is someone else's");
        t.resetEnds(token);
        assertTrue(t.trusted());
        assertFalse(t.insideReset(0, 32), "no reset runs");
    }

    /** A page zapped after a loader claimed it is not recorded present by that loader. */
    @Test
    void aPageZappedSinceTheClaimIsNotRecordedPresent() {
        PageTable t = new PageTable(8, true);
        long epoch = t.zapEpoch();
        assertTrue(t.claim(3));
        t.zapped(2, 4);
        t.markPresent(3, 4, epoch);
        assertFalse(t.isPresent(3));
    }

    @Test
    void presetPresentMarksExactlyTheGivenPagesAndCountsThem() {
        PageTable t = new PageTable(200, true);
        java.util.BitSet present = new java.util.BitSet();
        present.set(0, 10);
        present.set(63, 130);
        present.set(199);
        present.set(250, 300);   // past the table: ignored
        t.presetPresent(present);
        for (int p = 0; p < 200; p++) {
            assertEquals(present.get(p), t.isPresent(p), "page " + p);
        }
        assertEquals(10 + 67 + 1, t.presentCount());
        assertTrue(t.cas(5, PageTable.PRESENT, PageTable.MISSING), "an ordinary page-state change after the preset");
        assertEquals(77, t.presentCount());
    }
}
