package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A stop signal that threads waiting in {@link Userfaultfd#read(EventBuffer, java.time.Duration, Doorbell)}
 * also poll: an eventfd. Once {@link #ring() rung} it stays rung, so every waiter returns, now and
 * later, until it is closed. Handler loops use one to stop promptly without closing the
 * userfaultfd first (closing it while faults are pending would let the kernel resolve them with
 * zero pages).
 *
 * <p>Thread safe: any thread may ring it or wait on it; {@link #ring()} and {@link #close()} are idempotent.
 */
public final class Doorbell implements AutoCloseable {

    private final int fd;
    private final AtomicBoolean rung = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();

    private Doorbell(int fd) {
        this.fd = fd;
    }

    /**
     * A new doorbell that has not rung.
     *
     * @return the doorbell, owning one eventfd (close it)
     */
    public static Doorbell create() {
        int fd = Native.eventfd(0, Abi.EFD_CLOEXEC | Abi.EFD_NONBLOCK);
        if (fd < 0) {
            throw Failures.of("eventfd", Native.errno());
        }
        return new Doorbell(fd);
    }

    int fd() {
        return fd;
    }

    /** Rings it: every thread waiting on it returns, and every later wait returns at once. Idempotent. */
    public void ring() {
        if (closed.get() || !rung.compareAndSet(false, true)) {
            return;
        }
        MemorySegment one = Native.scratch();
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        if (Native.write(fd, one, 8) != 8) {
            throw Failures.of("write", Native.errno());
        }
    }

    /**
     * Whether {@link #ring()} was called.
     *
     * @return true once rung
     */
    public boolean isRung() {
        return rung.get();
    }

    /** Closes the eventfd. Ring it and let the waiters return before closing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            Native.close(fd);
        }
    }

    @Override
    public String toString() {
        return "Doorbell[fd=" + fd + (rung.get() ? ", rung" : "") + (closed.get() ? ", closed" : "") + "]";
    }
}
