package io.github.uffd4j.handler;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The state of every page of one region: the single record of what is present, claimed, failed
 * or gone, with the retry counts, the recorded failures and the zap epoch. Thread safe: every
 * transition is a compare-and-set on the page's byte.
 *
 * <p>The <b>zap epoch</b> counts the REMOVE events (and resets) that touched the region. A loader
 * remembers the epoch when it claims pages and records them present only if no zap came in
 * between (see {@link #markPresent}), so a page zapped while it was being loaded is never called
 * present. The <b>trust</b> counters say whether the state can be relied on by the accessors'
 * fast path (see {@link ZapGate}): not while a reset is running, and never again after a zap the
 * service did not make itself.
 *
 * <p>The <b>waiter notes</b> close a window the zap epoch cannot: a fault read while its page is
 * LOADING is left to the loader, whose install wakes it. But the kernel carries out a hole punch
 * only after its REMOVE event was read, so a page can be mapped by the install and punched out
 * again before the loader records it: a thread faulting on it then would wait for a wake that
 * already happened. So the handler that leaves such a fault to the loader notes it
 * ({@link #awaitLoad}), and the loader, once it has recorded the pages, wakes the noted ones
 * ({@link #takeWaiters}).
 */
final class PageTable {

    static final byte MISSING = 0;
    static final byte LOADING = 1;
    static final byte PRESENT = 2;
    /** Present, and a fault on it was already answered with a wake; the next such fault refills it. */
    static final byte PRESENT_WOKEN = 3;
    static final byte FAILED = 4;
    static final byte GONE = 5;

    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final VarHandle ATTEMPTS = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final VarHandle WAITERS = MethodHandles.arrayElementVarHandle(long[].class);

    private final int pageCount;
    private final byte[] state;
    private final byte[] attempts;
    /** One bit per page: a fault on it was left to its loader (see {@link #awaitLoad}). */
    private final long[] waiters;
    private final AtomicInteger present = new AtomicInteger();
    private final Map<Integer, FaultFailure> failures = new ConcurrentHashMap<>();
    private final AtomicLong zapEpoch = new AtomicLong();
    /** The page spans of the last {@link #ZAP_LOG} zaps, by epoch: [from, to) pairs. */
    private final int[] zapLog = new int[ZAP_LOG * 2];
    private static final int ZAP_LOG = 64;
    private final AtomicInteger resetsRunning = new AtomicInteger();
    /** The page spans of the resets running now, packed as {@code from << 32 | to}. */
    private final java.util.List<Long> resetSpans = new java.util.ArrayList<>();
    private volatile boolean distrusted;
    private volatile int fillCursor;

    PageTable(int pageCount, boolean trusted) {
        this.pageCount = pageCount;
        this.state = new byte[pageCount];
        this.attempts = new byte[pageCount];
        this.waiters = new long[(pageCount + 63) >>> 6];
        this.distrusted = !trusted;
    }

    int pageCount() {
        return pageCount;
    }

    int state(int p) {
        return (byte) STATE.getAcquire(state, p);
    }

    static boolean isPresentState(int s) {
        return s == PRESENT || s == PRESENT_WOKEN;
    }

    boolean isPresent(int p) {
        return isPresentState(state(p));
    }

    /** Whether pages [from, to) are all present. */
    boolean allPresent(int from, int to) {
        for (int p = from; p < to; p++) {
            if (!isPresent(p)) {
                return false;
            }
        }
        return true;
    }

    int presentCount() {
        return present.get();
    }

    /** The pages present now, as a bit set (each page read once: a moment's view while faults go on). */
    java.util.BitSet presentSet() {
        java.util.BitSet set = new java.util.BitSet(pageCount);
        for (int p = 0; p < pageCount; p++) {
            if (isPresent(p)) {
                set.set(p);
            }
        }
        return set;
    }

    boolean cas(int p, byte expected, byte next) {
        boolean ok = STATE.compareAndSet(state, p, expected, next);
        if (ok) {
            boolean was = isPresentState(expected);
            boolean is = isPresentState(next);
            if (was && !is) {
                present.decrementAndGet();
            } else if (!was && is) {
                present.incrementAndGet();
            }
        }
        return ok;
    }

    /**
     * Marks the pages of {@code pages} PRESENT in a new table that no other thread sees yet (a
     * region being registered): whole runs at once, not a compare-and-set per page (1M pages of a
     * migration's switchover took about 25 ms that way).
     */
    void presetPresent(java.util.BitSet pages) {
        int count = 0;
        for (int p = pages.nextSetBit(0); p >= 0 && p < pageCount; ) {
            int q = Math.min(pages.nextClearBit(p), pageCount);
            java.util.Arrays.fill(state, p, q, PRESENT);
            count += q - p;
            p = q < pageCount ? pages.nextSetBit(q) : -1;
        }
        present.addAndGet(count);
    }

    /** Sets page {@code p} to {@code next} whatever it was, keeping the present count right. */
    void force(int p, byte next) {
        for (;;) {
            byte s = (byte) STATE.getVolatile(state, p);
            if (s == next || cas(p, s, next)) {
                return;
            }
        }
    }

    /** Claims page {@code p} for loading if it is missing. */
    boolean claim(int p) {
        return cas(p, MISSING, LOADING);
    }

    /** A loader gives page {@code p} back untouched; the caller wakes the range afterwards. */
    void release(int p) {
        cas(p, LOADING, MISSING);
    }

    /**
     * Records pages [from, to) present after a loader mapped them (they were claimed, or found
     * missing, at zap epoch {@code epoch}). A page a zap touched since then is not recorded
     * present: a claim on it is given back instead (the zap takes the page away, and a later
     * fault loads it again). The caller is inside the {@link ZapGate}, so no REMOVE is applied
     * while this runs. Every claimed page of the run leaves LOADING.
     */
    void markPresent(int from, int to, long epoch) {
        boolean zappedSince = zapEpoch.get() != epoch;
        for (int p = from; p < to; p++) {
            if (zappedSince && zappedSince(p, epoch)) {
                cas(p, LOADING, MISSING);
                continue;
            }
            if (!cas(p, LOADING, PRESENT)) {
                cas(p, MISSING, PRESENT);
            }
            ATTEMPTS.setVolatile(attempts, p, (byte) 0);
        }
    }

    /** Whether a zap after {@code epoch} touched page {@code p} (true when the log no longer reaches back so far). */
    private boolean zappedSince(int p, long epoch) {
        synchronized (zapLog) {
            long now = zapEpoch.get();
            if (now - epoch > ZAP_LOG) {
                return true;
            }
            for (long e = epoch + 1; e <= now; e++) {
                int i = (int) (e % ZAP_LOG) * 2;
                if (p >= zapLog[i] && p < zapLog[i + 1]) {
                    return true;
                }
            }
            return false;
        }
    }

    /** In a page's attempts byte: the page was in a block whose load failed, perhaps for its sake. */
    private static final int SUSPECT = 0x40;
    private static final int COUNT = 0x3f;

    /**
     * Whether page {@code p} must be loaded alone: an attempt at it failed, or it was in a block
     * whose load failed or timed out (the culprit is not known), since it was last loaded.
     */
    boolean loadAlone(int p) {
        return (byte) ATTEMPTS.getVolatile(attempts, p) != 0;
    }

    /** Marks pages [from, to) to be loaded alone from now on (see {@link #loadAlone}). */
    void markSuspect(int from, int to) {
        for (int p = from; p < to; p++) {
            for (;;) {
                byte a = (byte) ATTEMPTS.getVolatile(attempts, p);
                if ((a & SUSPECT) != 0 || ATTEMPTS.compareAndSet(attempts, p, a, (byte) (a | SUSPECT))) {
                    break;
                }
            }
        }
    }

    /** Increments and returns the failed attempts at page {@code p}. */
    int attemptFailed(int p) {
        for (;;) {
            byte a = (byte) ATTEMPTS.getVolatile(attempts, p);
            int count = Math.min(COUNT, (a & COUNT) + 1);
            if (ATTEMPTS.compareAndSet(attempts, p, a, (byte) ((a & SUSPECT) | count))) {
                return count;
            }
        }
    }

    void clearAttempts(int p) {
        ATTEMPTS.setVolatile(attempts, p, (byte) 0);
    }

    // ---- faults left to a loader ------------------------------------------------------------

    /**
     * A fault on page {@code p} was read while the page was LOADING: notes that a thread waits
     * there for the loader. Returns whether the page is still LOADING; when it is not, the load
     * ended before the note and the caller must look at the page again. (The note, then the
     * state; the loader records the state, then takes the notes: one of the two sees the other.)
     */
    boolean awaitLoad(int p) {
        WAITERS.getAndBitwiseOr(waiters, p >>> 6, 1L << p);
        return (byte) STATE.getVolatile(state, p) == LOADING;
    }

    /** Takes the notes of faults left to the loader of pages [from, to); true if there was one. */
    boolean takeWaiters(int from, int to) {
        boolean any = false;
        for (int w = from >>> 6, last = (to - 1) >>> 6; w <= last && from < to; w++) {
            long mask = -1L;
            if (w == from >>> 6) {
                mask &= -1L << from;
            }
            if (w == last) {
                mask &= -1L >>> (63 - ((to - 1) & 63));
            }
            if (((long) WAITERS.getVolatile(waiters, w) & mask) != 0) {
                any |= ((long) WAITERS.getAndBitwiseAnd(waiters, w, ~mask) & mask) != 0;
            }
        }
        return any;
    }

    // ---- failures ----------------------------------------------------------------------------

    FaultFailure failure(int p) {
        return failures.get(p);
    }

    void recordFailure(int p, FaultFailure f) {
        failures.put(p, f);
    }

    void recordFailureIfAbsent(int p, FaultFailure f) {
        failures.putIfAbsent(p, f);
    }

    void forgetFailure(int p) {
        failures.remove(p);
    }

    void forgetFailure(int p, FaultFailure f) {
        failures.remove(p, f);
    }

    // ---- zaps ------------------------------------------------------------------------------------

    long zapEpoch() {
        return zapEpoch.get();
    }

    /**
     * A REMOVE (or reset) zapped pages [from, to): they are missing again, their failures and
     * retry counts are forgotten, and the zap epoch moves on.
     */
    void zapped(int from, int to) {
        logZap(from, to);
        boolean anyFailures = !failures.isEmpty();
        for (int p = from; p < to; p++) {
            byte s = (byte) STATE.getVolatile(state, p);
            if (s != GONE && s != MISSING) {
                force(p, MISSING);
            }
            ATTEMPTS.setVolatile(attempts, p, (byte) 0);
            if (anyFailures) {
                failures.remove(p);
            }
        }
        if (from < fillCursor) {
            fillCursor = from;
        }
    }

    /** Moves the zap epoch on, remembering which pages the zap covered. */
    private void logZap(int from, int to) {
        synchronized (zapLog) {
            long e = zapEpoch.get() + 1;
            int i = (int) (e % ZAP_LOG) * 2;
            zapLog[i] = from;
            zapLog[i + 1] = to;
            zapEpoch.set(e);
        }
    }

    /** UNMAP: pages [from, to) are no longer mapped. */
    void gone(int from, int to) {
        logZap(from, to);
        for (int p = from; p < to; p++) {
            force(p, GONE);
        }
    }

    /**
     * A reset of pages [from, to) through {@link Region#reset} begins: the fast path is off until
     * it {@linkplain #resetEnds ends}, and the REMOVE events inside that span are its own.
     */
    long resetBegins(int from, int to) {
        long span = (long) from << 32 | to;
        synchronized (resetSpans) {
            resetSpans.add(span);
        }
        resetsRunning.incrementAndGet();
        return span;
    }

    void resetEnds(long span) {
        synchronized (resetSpans) {
            if (!resetSpans.remove(Long.valueOf(span))) {
                resetSpans.remove(Long.valueOf(CLAIMED));
            }
        }
        resetsRunning.decrementAndGet();
    }

    /**
     * Whether a REMOVE of pages [from, to) is the one a reset running now asked for: its span
     * exactly, once per reset. A zap merely inside a running reset's span may be someone else's
     * madvise, whose zap can land after the reset ended and the page was loaded again: it must
     * make the table untrusted.
     */
    boolean insideReset(int from, int to) {
        if (resetsRunning.get() == 0) {
            return false;
        }
        long span = (long) from << 32 | to;
        synchronized (resetSpans) {
            int i = resetSpans.indexOf(span);
            if (i < 0) {
                return false;
            }
            resetSpans.set(i, CLAIMED);
            return true;
        }
    }

    /** A reset span whose REMOVE event has been seen (see {@link #insideReset}). */
    private static final long CLAIMED = -1L;

    /** A zap the service did not make: the state may lag behind the page tables from now on. */
    void distrust() {
        distrusted = true;
    }

    /** Whether the accessors' fast path may rely on this table (checked inside the {@link ZapGate}). */
    boolean trusted() {
        return !distrusted && resetsRunning.get() == 0;
    }

    boolean isDistrusted() {
        return distrusted;
    }

    // ---- background fill -------------------------------------------------------------------------

    int fillCursor() {
        return fillCursor;
    }

    void fillCursor(int p) {
        fillCursor = p;
    }
}
