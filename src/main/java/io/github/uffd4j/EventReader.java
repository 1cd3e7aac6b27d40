package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The read/poll loop of one userfaultfd: read(2) as many messages as the buffer holds, and when
 * none is pending wait in poll(2) on the descriptor, on its close {@link Doorbell} (rung by
 * {@link Userfaultfd#close()}) and on the caller's stop doorbell, if any. The descriptor is
 * non-blocking, so no reader can block past close. Thread safe; allocation-free (the pollfd
 * array lives in the calling thread's scratch buffer). The caller keeps the descriptor open
 * meanwhile (its {@link CloseGate}).
 */
final class EventReader {

    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    private final int fd;
    private final Doorbell closeBell;
    /** Orders read(2) with the tracking of what it read (see {@link #read}). */
    private final ReentrantLock order = new ReentrantLock();

    EventReader(int fd, Doorbell closeBell) {
        this.fd = fd;
        this.closeBell = closeBell;
    }

    /** What to do with the messages of a read before another thread may read: see {@link #read}. */
    interface Tracker {
        void track(EventBuffer buffer, int count);
    }

    /**
     * Reads into {@code buffer} and returns the number of messages (the buffer's count is set);
     * waits up to {@code timeoutNanos} (0: not at all, negative: forever) for the first one;
     * returns 0 when the time is up or {@code doorbell} (may be null) rang. Each read(2) and the
     * {@code tracker}'s look at what it read happen under one lock, so that the messages of two
     * reads are tracked in the order the kernel queued them even when two threads read at once
     * (an UNMAP read by one thread must not be tracked after a later REMAP read by another). The
     * lock is never held while waiting.
     *
     * @throws UffdClosedException when the close doorbell rings while waiting
     */
    int read(EventBuffer buffer, long timeoutNanos, Doorbell doorbell, Tracker tracker) {
        long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
        for (;;) {
            int count;
            order.lock();
            try {
                count = readNow(buffer);
                if (count > 0) {
                    tracker.track(buffer, count);
                }
            } finally {
                order.unlock();
            }
            if (count > 0) {
                return count;
            }
            int waitMillis;
            if (timeoutNanos == 0) {
                break;
            } else if (timeoutNanos < 0) {
                waitMillis = -1;
            } else {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                waitMillis = RangeChecks.pollMillis(left);
            }
            if (!awaitReadable(waitMillis, doorbell)) {
                break;
            }
        }
        buffer.filled(0);
        return 0;
    }

    /** One read(2) without waiting (the descriptor is non-blocking): the messages read, 0 when none was pending. */
    private int readNow(EventBuffer buffer) {
        for (;;) {
            long n = Native.read(fd, buffer.messages(), buffer.capacity() * EventBuffer.MESSAGE_BYTES);
            if (n > 0) {
                int count = (int) (n / EventBuffer.MESSAGE_BYTES);
                buffer.filled(count);
                return count;
            }
            int e = n < 0 ? Native.errno() : Errno.EAGAIN;
            if (e == Errno.EAGAIN) {
                return 0;
            }
            if (e != Errno.EINTR) {
                throw Failures.of("read", e);
            }
        }
    }

    /**
     * Waits up to {@code timeoutNanos} (negative: forever) for a message without reading it: true
     * when one may be pending, false when the time passed or {@code doorbell} rang.
     */
    boolean await(long timeoutNanos, Doorbell doorbell) {
        int millis = timeoutNanos < 0 ? -1 : RangeChecks.pollMillis(timeoutNanos);
        // the poll's own answer: no second poll(2) to ask whether a message is there
        return awaitReadable(millis, doorbell) && (revents(Native.thread().scratch(), 0) & Abi.POLLIN) != 0;
    }

    /** Whether a message is waiting to be read right now (poll(2) with no wait). Reads nothing. */
    boolean hasPending() {
        MemorySegment fds = Native.thread().struct(Abi.POLLFD_SIZE);
        set(fds, 0, fd);
        int rc = Native.poll(fds, 1, 0);
        if (rc < 0) {
            throw Failures.of("poll", Native.errno());
        }
        return (revents(fds, 0) & Abi.POLLIN) != 0;
    }

    /**
     * Waits in poll(2) until the descriptor is readable, the timeout passes, or the close doorbell
     * rings; returns false when the stop doorbell (if any) rang.
     */
    private boolean awaitReadable(int timeoutMillis, Doorbell doorbell) {
        MemorySegment fds = Native.thread().struct(3 * Abi.POLLFD_SIZE);
        set(fds, 0, fd);
        set(fds, 1, closeBell.fd());
        if (doorbell != null) {
            set(fds, 2, doorbell.fd());
        }
        int rc = Native.poll(fds, doorbell != null ? 3 : 2, timeoutMillis);
        if (rc < 0) {
            int e = Native.errno();
            if (e == Errno.EINTR) {
                return true;
            }
            throw Failures.of("poll", e);
        }
        if (revents(fds, 1) != 0 || closeBell.isRung()) {
            throw new UffdClosedException("userfaultfd " + fd + " was closed while reading events");
        }
        if (doorbell != null && revents(fds, 2) != 0) {
            return false;
        }
        short revents = revents(fds, 0);
        if ((revents & (Abi.POLLERR | Abi.POLLNVAL)) != 0) {
            throw Failures.withHint("poll", Errno.EBADF, "the userfaultfd reported POLLERR/POLLNVAL (revents 0x"
                    + Integer.toHexString(revents & 0xffff) + "): the handshake was not done, or the descriptor is gone");
        }
        return true;
    }

    private static void set(MemorySegment fds, int i, int fd) {
        long base = i * Abi.POLLFD_SIZE;
        fds.set(INT, base + Abi.POLLFD_FD, fd);
        fds.set(SHORT, base + Abi.POLLFD_EVENTS, (short) Abi.POLLIN);
    }

    private static short revents(MemorySegment fds, int i) {
        return fds.get(SHORT, i * Abi.POLLFD_SIZE + Abi.POLLFD_REVENTS);
    }
}
