package io.github.uffd4j.handler;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * What one service thread is doing, as the {@link Watchdog} sees it: idle, running user code
 * (a page source, fault handler or write hook) on a run of pages since a given time, or
 * abandoned by the watchdog. Written by its thread, read and abandoned by the watchdog.
 */
final class WorkSlot {
    static final int IDLE = 0;
    static final int BUSY = 1;
    static final int ABANDONED = 2;

    /** What the slot's thread runs: the watchdog's way back to it. */
    interface Owner {
        /** Wakes the threads behind the faults this thread read but will not serve now. */
        void wakeUnserved();

        /** The thread, to interrupt it once abandoned. */
        Thread thread();

        /** Whether it is the background filler (which is replaced differently). */
        boolean isFiller();
    }

    private final AtomicInteger phase = new AtomicInteger();
    final Owner owner;
    /** A handler thread is serving a batch of faults (the filler steps aside meanwhile). */
    volatile boolean inBatch;
    volatile long since;
    volatile Region region;
    /** The page a thread waits for, or -1 for background work and write hooks. */
    volatile int faultPage;
    volatile int runStart;
    volatile int runEnd;
    /** Which user code runs, for the timeout message. */
    volatile String what;

    WorkSlot(Owner owner) {
        this.owner = owner;
    }

    /**
     * The slot's thread is about to run user code on pages [start, end). Clears the thread's
     * interrupt status: an interrupt left by earlier user code (or by the watchdog) must not fail
     * this call.
     */
    void begin(String what, Region r, int faultPage, int start, int end) {
        this.what = what;
        this.region = r;
        this.faultPage = faultPage;
        this.runStart = start;
        this.runEnd = end;
        this.since = System.nanoTime();
        phase.set(BUSY);
        Thread.interrupted();
    }

    /**
     * The user code returned. Clears the interrupt status it may have left; false if the watchdog
     * abandoned the attempt meanwhile (its result must be dropped).
     */
    boolean end() {
        Thread.interrupted();
        return phase.compareAndSet(BUSY, IDLE);
    }

    boolean isBusy() {
        return phase.get() == BUSY;
    }

    boolean isAbandoned() {
        return phase.get() == ABANDONED;
    }

    /** Takes the running attempt away from its thread; false if it finished first. */
    boolean abandon() {
        return phase.compareAndSet(BUSY, ABANDONED);
    }

    /** Whether this live handler thread is serving faults now. */
    boolean servingFaults() {
        return inBatch && phase.get() != ABANDONED;
    }
}
