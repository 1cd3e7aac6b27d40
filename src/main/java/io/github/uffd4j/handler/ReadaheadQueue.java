package io.github.uffd4j.handler;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs of pages a sequential reader will want next, asked for by the handler threads and loaded
 * by the {@link ReadaheadWorker}s while the reader consumes what it has: a bounded ring of
 * (region, first page, end page), oldest first. A request is a hint: when the ring is full it is
 * dropped, and a worker loads only the pages of it still missing when it gets there. Offering
 * allocates nothing. Thread safe.
 */
final class ReadaheadQueue {

    private static final int CAPACITY = 64;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition notEmpty = lock.newCondition();
    private final Region[] regions = new Region[CAPACITY];
    private final int[] starts = new int[CAPACITY];
    private final int[] ends = new int[CAPACITY];
    private int head;
    private int count;
    /** Set under the lock; read without it (a worker asks once per page it looks at). */
    private volatile boolean stopped;

    /** Asks for pages [s, e) of {@code r}; false when the ring is full or stopped (the request is dropped). */
    boolean offer(Region r, int s, int e) {
        lock.lock();
        try {
            if (stopped || count == CAPACITY) {
                return false;
            }
            int i = (head + count) % CAPACITY;
            regions[i] = r;
            starts[i] = s;
            ends[i] = e;
            count++;
            notEmpty.signal();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The oldest request, waiting up to {@code millis} for one: its region, with its pages in
     * {@code range[0]} (first) and {@code range[1]} (end); null when none came or the queue stopped.
     */
    Region take(int[] range, long millis) throws InterruptedException {
        lock.lock();
        try {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            while (count == 0 && !stopped) {
                if (nanos <= 0) {
                    return null;
                }
                nanos = notEmpty.awaitNanos(nanos);
            }
            if (stopped) {
                return null;
            }
            Region r = regions[head];
            range[0] = starts[head];
            range[1] = ends[head];
            regions[head] = null;
            head = (head + 1) % CAPACITY;
            count--;
            return r;
        } finally {
            lock.unlock();
        }
    }

    /** Drops every request and wakes the workers for good (the service closes). */
    void stop() {
        lock.lock();
        try {
            stopped = true;
            java.util.Arrays.fill(regions, null);
            count = 0;
            notEmpty.signalAll();
        } finally {
            lock.unlock();
        }
    }

    boolean isStopped() {
        return stopped;
    }
}
