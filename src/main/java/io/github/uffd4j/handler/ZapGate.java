package io.github.uffd4j.handler;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Keeps the accessors' plain Java loads and the kernel's zaps apart, so that an accessor never
 * takes a userfaultfd fault in Java code (which would let a safepoint freeze the JVM).
 *
 * <p>The kernel zaps pages for madvise(MADV_DONTNEED / MADV_REMOVE / MADV_FREE) only after a
 * handler thread has <em>read</em> the REMOVE event (the madvise caller waits for that). So a
 * handler thread {@linkplain #close() closes} the gate and waits for the readers inside it to
 * leave before every read(2) of the userfaultfd, applies the events it read to the page tables,
 * then {@linkplain #open() opens} it again ({@link Region#reset} closes it too, to record its own
 * zap once it is done). A reader that got in while the gate was open, and saw
 * its pages present in a trusted page table, can load them from Java: no zap can happen until it
 * leaves. A reader that finds the gate closed, or pages not present, reads through the kernel
 * instead (where a fault is safe).
 *
 * <p>Readers announce themselves in striped counters (one cache line per stripe), so readers on
 * different threads do not contend; entering and leaving costs two atomic adds and a volatile
 * read. Correctness rests on the ordering of sequentially consistent atomics: a reader
 * increments its stripe, then reads the gate; a closer increments the gate, then reads the
 * stripes; at least one of the two sees the other.
 */
final class ZapGate {

    private static final System.Logger LOG = System.getLogger(ZapGate.class.getName());
    private static final int STRIPES = 16;
    /** Longs per stripe: 128 bytes, two cache lines, so stripes never share one. */
    private static final int PAD = 16;
    /** A reader stays inside for the time of a few loads; this long means something is wrong. */
    private static final long DRAIN_GIVE_UP_NANOS = 5_000_000_000L;

    private final AtomicInteger closers = new AtomicInteger();
    private final AtomicLongArray readers = new AtomicLongArray(STRIPES * PAD);
    private final AtomicInteger slowDrains = new AtomicInteger();

    private static int stripe() {
        return (int) (Thread.currentThread().threadId() & (STRIPES - 1)) * PAD;
    }

    /**
     * Enters as a reader; returns the stripe to pass to {@link #leave}, or -1 when the gate is
     * closed (then the caller must not load registered memory from Java, and must not call leave).
     */
    int enter() {
        int s = stripe();
        readers.getAndIncrement(s);
        if (closers.get() != 0) {
            readers.getAndDecrement(s);
            return -1;
        }
        return s;
    }

    /**
     * Enters as a reader, waiting while a handler thread has the gate closed (it reads and applies
     * events, briefly). For writers of the page table, which must not race a REMOVE being applied.
     */
    int enterWaiting() {
        int stripe;
        int spins = 0;
        while ((stripe = enter()) < 0) {
            if (++spins < 50) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the closer may need this CPU to finish
            }
        }
        return stripe;
    }

    void leave(int stripe) {
        readers.getAndDecrement(stripe);
    }

    /**
     * Closes the gate and waits until no reader is inside. Called by handler threads before each
     * read of the userfaultfd; returns quickly (readers stay inside for nanoseconds). If a reader
     * stays inside for seconds (it can only be descheduled, or stuck on a page that was zapped
     * without any event), the wait ends with an error logged rather than hanging the handler.
     */
    void close() {
        closers.getAndIncrement();
        if (drained()) {
            return;
        }
        long start = System.nanoTime();
        int spins = 0;
        while (!drained()) {
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(10_000);
                if (System.nanoTime() - start > DRAIN_GIVE_UP_NANOS) {
                    if (slowDrains.getAndIncrement() == 0) {
                        LOG.log(System.Logger.Level.ERROR, "uffd4j: an accessor stayed inside the zap gate for more than "
                                + DRAIN_GIVE_UP_NANOS / 1_000_000_000L + " s; going on (was the memory zapped by something "
                                + "that sends no REMOVE event, such as a hole punched into shared memory?)");
                    }
                    return;
                }
            }
        }
    }

    void open() {
        closers.getAndDecrement();
    }

    private boolean drained() {
        for (int i = 0; i < STRIPES; i++) {
            if (readers.get(i * PAD) != 0) {
                return false;
            }
        }
        return true;
    }
}
