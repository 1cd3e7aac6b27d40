package io.github.uffd4j.handler;

/**
 * What every loader thread of the service (a {@link HandlerThread}, a {@link ReadaheadWorker} or
 * the {@link BackgroundFiller}) shares: its {@link WorkSlot}, through which the watchdog sees and
 * takes over what it runs, and its platform thread.
 */
abstract class ServiceThread implements Runnable, WorkSlot.Owner {

    final WorkSlot slot = new WorkSlot(this);
    private volatile Thread thread;

    WorkSlot slot() {
        return slot;
    }

    void start(Thread t) {
        this.thread = t;
        t.start();
    }

    @Override
    public Thread thread() {
        return thread;
    }

    /** Only the background filler says yes. */
    @Override
    public boolean isFiller() {
        return false;
    }

    /** A thread that reads no faults has none to wake; a handler thread wakes those of its batch. */
    @Override
    public void wakeUnserved() {
    }
}
