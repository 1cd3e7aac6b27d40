package io.github.uffd4j.bench;

import io.github.uffd4j.Doorbell;
import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.EventKind;
import io.github.uffd4j.PageExistsException;
import io.github.uffd4j.Userfaultfd;

import java.time.Duration;

/**
 * One handler thread on the raw binding, written the way the C reference's is: wait for messages
 * (and the stop signal), read up to {@link #BATCH} per read, resolve each fault with one ioctl,
 * wake on EEXIST. Allocates nothing per fault.
 */
final class RawHandler implements Handler {

    static final int BATCH = 64;
    private static final Duration WAIT = Duration.ofDays(1);

    /** How a fault is resolved. */
    enum Resolve { COPY, ZEROPAGE, CONTINUE, UNPROTECT }

    private final Userfaultfd uffd;
    private final Resolve how;
    private final long base;
    private final long source;
    private final long unit;
    private final boolean pinned;
    private final Doorbell stop = Doorbell.create();
    private final Thread thread;
    private volatile Throwable failure;

    /**
     * @param base   start of the registered memory
     * @param source for COPY: memory laid out like the registered memory, copied from
     * @param unit   bytes resolved per fault (a power of two, at least a page)
     * @param pinned whether the thread pins itself to CPU 1 (the cross-CPU setting)
     */
    RawHandler(Userfaultfd uffd, Resolve how, long base, long source, long unit, boolean pinned) {
        this.uffd = uffd;
        this.how = how;
        this.base = base;
        this.source = source;
        this.unit = unit;
        this.pinned = pinned;
        this.thread = Thread.ofPlatform().daemon().name("uffd4j-bench-handler").start(this::loop);
    }

    private void loop() {
        try (EventBuffer events = EventBuffer.allocate(BATCH)) {
            if (pinned) {
                NativeTouch.pinTo(1);
            }
            while (!stop.isRung()) {
                int n = uffd.read(events, WAIT, stop);
                for (int i = 0; i < n; i++) {
                    if (events.kind(i) == EventKind.PAGEFAULT) {
                        resolve(events.faultAddress(i) & -unit);
                    }
                }
            }
        } catch (Throwable t) {
            failure = t;
            // the touching threads would wait for this thread forever: closing the descriptor
            // lets the kernel resolve their faults itself, and check() then reports the failure
            try {
                uffd.close();
            } catch (RuntimeException ignored) {
                // already closed
            }
        }
    }

    /** Throws if the handler thread has failed. */
    @Override
    public void check() {
        if (failure != null) {
            throw new IllegalStateException("the handler thread failed", failure);
        }
    }

    private void resolve(long address) {
        try {
            switch (how) {
                case COPY -> uffd.copy(address, source + (address - base), unit, 0);
                case ZEROPAGE -> uffd.zeropage(address, unit, 0);
                case CONTINUE -> uffd.continueRange(address, unit, 0);
                case UNPROTECT -> uffd.writeProtect(address, unit, false, 0);
            }
        } catch (PageExistsException e) {
            uffd.wake(address, unit);
        }
    }

    /** Stops the thread and rethrows what made it fail, if anything did. */
    @Override
    public void close() {
        stop.ring();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stop.close();
        if (thread.isAlive()) {
            throw new IllegalStateException("handler thread did not stop");
        }
        check();
    }
}
