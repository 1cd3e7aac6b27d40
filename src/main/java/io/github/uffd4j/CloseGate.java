package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Native;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The close protocol of an object that owns a descriptor used by many threads at once: every
 * call {@link #enter() enters} the gate before using the descriptor and {@link #exit() exits}
 * after, and {@link #close} shuts the gate, waits (boundedly) for the calls inside to leave, and
 * only then lets the owner close the descriptor. So no call ever uses a descriptor number that
 * was closed and perhaps reused for another file. One atomic counter: the sign bit says closed,
 * the rest counts the calls inside. Thread safe, allocation-free.
 */
final class CloseGate {

    private static final long CLOSED = Long.MIN_VALUE;

    private final AtomicLong state = new AtomicLong();

    /** Enters the gate: true, or false when it is closed (the caller throws its own "closed" exception). */
    boolean enter() {
        if (state.incrementAndGet() < 0) {
            state.decrementAndGet();
            return false;
        }
        return true;
    }

    /** Leaves the gate; one call per successful {@link #enter()}. */
    void exit() {
        state.decrementAndGet();
    }

    /** Whether {@link #close} was called. */
    boolean isClosed() {
        return state.get() < 0;
    }

    /**
     * The close of an object that owns descriptor {@code fd} and wakes its blocked calls with
     * {@code closeBell}: shuts the gate (ringing the bell, waiting up to 5 s for calls inside to
     * leave), then closes the descriptor and the bell. Returns false when it was closed already.
     */
    boolean closeDescriptor(int fd, Doorbell closeBell) {
        if (!close(closeBell::ring, Duration.ofSeconds(5))) {
            return false;
        }
        Native.close(fd);
        closeBell.close();
        return true;
    }

    /**
     * Shuts the gate: later {@link #enter()} calls fail. Returns false when it was already shut
     * (close is idempotent: the caller then does nothing). Otherwise runs {@code wakeWaiters} (to
     * make calls blocked inside return), waits at most {@code maxWait} for the calls inside to
     * leave, and returns true: the caller may now close its descriptors.
     */
    boolean close(Runnable wakeWaiters, Duration maxWait) {
        long s;
        do {
            s = state.get();
            if (s < 0) {
                return false;
            }
        } while (!state.compareAndSet(s, s | CLOSED));
        if (wakeWaiters != null) {
            wakeWaiters.run();
        }
        long deadline = System.nanoTime() + maxWait.toNanos();
        while ((state.get() & ~CLOSED) != 0 && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(100_000);
        }
        return true;
    }
}
