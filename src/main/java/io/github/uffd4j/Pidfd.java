package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A pidfd: a descriptor that names one process for as long as it is open, never another that
 * later reuses its pid (Linux 5.6+). It says when the process exits ({@link #awaitExit}) and takes
 * a copy of one of the process's descriptors ({@link #takeDescriptor}, {@code pidfd_getfd}): how
 * a pager's replacement recovers an app's userfaultfd without the app's help, when the app's
 * threads are frozen waiting for faults the dead pager will never serve.
 *
 * <p>Thread safe; {@link #close()} wakes an {@link #awaitExit} waiting in another thread.
 */
public final class Pidfd implements AutoCloseable {

    private final int fd;
    private final long pid;
    private final Doorbell closeBell;
    private final CloseGate gate = new CloseGate();

    private Pidfd(int fd, long pid, Doorbell closeBell) {
        this.fd = fd;
        this.pid = pid;
        this.closeBell = closeBell;
    }

    /**
     * {@code pidfd_open(pid, 0)}: the process with this pid now.
     *
     * @param pid the process id
     * @return the pidfd, owned by the caller (close it)
     */
    public static Pidfd open(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pid must be a positive int, not " + pid);
        }
        Native.ensureAvailable();
        long rc = Native.syscall(Abi.SYS_pidfd_open, (int) pid, 0, 0); // (pid, flags); the kernel ignores the third
        if (rc < 0) {
            int e = Native.errno();
            throw Failures.withHint("pidfd_open", e, e == Errno.ESRCH ? "no process has pid " + pid + " (it exited)"
                    : e == Errno.ENOSYS ? "pidfd_open needs Linux 5.3 or newer" : "");
        }
        return adopt((int) rc, pid);
    }

    /**
     * The peer process of a connected unix socket, from the kernel (SO_PEERPIDFD, Linux 6.5+;
     * on an older kernel a pidfd opened for the SO_PEERCRED pid, which a pid reuse between the
     * connect and this call could fool).
     *
     * @param socket a connected socket
     * @return the peer's pidfd, owned by the caller
     */
    public static Pidfd ofPeer(UnixSocket socket) {
        int pid = socket.peer().pid();
        int fd;
        try {
            fd = socket.peerPidfd();
        } catch (UnsupportedOperationException oldKernel) {
            return open(pid);
        }
        return adopt(fd, pid);
    }

    private static Pidfd adopt(int fd, long pid) {
        try {
            return new Pidfd(fd, pid, Doorbell.create());
        } catch (RuntimeException e) {
            Native.close(fd);
            throw e;
        }
    }

    /**
     * The process's pid (as it was when this pidfd was opened).
     *
     * @return the pid
     */
    public long pid() {
        return pid;
    }

    /**
     * The descriptor (owned by this object: do not close it).
     *
     * @return the pidfd number
     */
    public int fd() {
        return fd;
    }

    /**
     * Whether the process has exited (a pidfd becomes readable then).
     *
     * @return true once the process exited
     */
    public boolean hasExited() {
        return awaitExit(Duration.ZERO);
    }

    /**
     * Waits up to {@code timeout} for the process to exit: true once it has, false when the time
     * passed first. {@code null} waits without limit.
     *
     * @param timeout the longest wait, or null
     * @return true when the process exited
     * @throws UffdClosedException when this pidfd is closed meanwhile
     */
    public boolean awaitExit(Duration timeout) {
        long nanos = timeout == null ? Long.MAX_VALUE : RangeChecks.timeoutNanos(timeout);
        enter();
        try {
            if (nanos == 0) {
                return readable();
            }
            long deadline = SocketIo.deadline(nanos);
            while (SocketIo.await(fd, Abi.POLLIN, closeBell, deadline, "pidfd", "waiting for its process to exit")) {
                if (readable()) {
                    return true;
                }
            }
            return false;
        } finally {
            gate.exit();
        }
    }

    private boolean readable() {
        var fds = Native.thread().struct(Abi.POLLFD_SIZE);
        fds.set(java.lang.foreign.ValueLayout.JAVA_INT, Abi.POLLFD_FD, fd);
        fds.set(java.lang.foreign.ValueLayout.JAVA_SHORT, Abi.POLLFD_EVENTS, (short) Abi.POLLIN);
        return Native.poll(fds, 1, 0) > 0;
    }

    /**
     * {@code pidfd_getfd}: a copy, in this process, of the process's descriptor {@code targetFd}
     * (close-on-exec; the caller owns it). Needs ptrace rights over the process
     * (PTRACE_MODE_ATTACH_REALCREDS: the same user and a Yama ptrace_scope that allows it, or
     * CAP_SYS_PTRACE).
     *
     * @param targetFd the descriptor number in that process
     * @return the new descriptor in this process
     */
    public int takeDescriptor(int targetFd) {
        if (targetFd < 0) {
            throw new IllegalArgumentException("descriptor numbers are not negative: " + targetFd);
        }
        enter();
        try {
            long rc = Native.syscall(Abi.SYS_pidfd_getfd, fd, targetFd, 0);
            if (rc < 0) {
                int e = Native.errno();
                String hint = e == Errno.EPERM ? "no ptrace rights over pid " + pid + ": run as root or the same user with "
                        + "CAP_SYS_PTRACE, or with kernel.yama.ptrace_scope=0"
                        : e == Errno.EBADF ? "pid " + pid + " has no open descriptor " + targetFd
                        : e == Errno.ESRCH ? "pid " + pid + " has exited"
                        : e == Errno.ENOSYS ? "pidfd_getfd needs Linux 5.6 or newer" : "";
                throw Failures.withHint("pidfd_getfd", e, hint);
            }
            return (int) rc;
        } finally {
            gate.exit();
        }
    }

    /**
     * {@code process_vm_readv}: copies {@code [address, address + dst.byteSize())} of the
     * process's memory into {@code dst}. A page of it that is missing or poisoned there is faulted
     * in the process as its own access would be (a userfaultfd registered there is asked for it,
     * and this thread waits in the kernel meanwhile). Needs ptrace rights over the process, as
     * {@link #takeDescriptor} does. Checks afterwards that the process still runs, so the bytes
     * come from this process, never from another that reused its pid.
     *
     * @param address the first byte in the process's address space
     * @param dst where the bytes go: live off-heap memory of this process
     * @throws UffdException naming process_vm_readv and the errno (EPERM: no ptrace rights;
     *                       EFAULT: the range is not mapped there; ESRCH: the process exited)
     */
    public void readMemory(long address, MemorySegment dst) {
        enter();
        try {
            KernelCopy.readProcess((int) pid, address, dst);
            if (readable()) {
                throw Failures.withHint("process_vm_readv", Errno.ESRCH, "pid " + pid + " exited: its memory is gone");
            }
        } finally {
            gate.exit();
        }
    }

    /**
     * The process's start time in clock ticks since boot ({@code /proc/PID/stat}, field 22), or -1
     * when it has exited. With the pid it names one process across reboots of pid numbering: a
     * record of (pid, start time) written earlier still identifies the same process now.
     *
     * @param pid the process id
     * @return the start time in clock ticks, or -1
     */
    public static long startTime(long pid) {
        String stat;
        try {
            stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        } catch (IOException gone) {
            return -1;
        }
        // the command name (field 2) is in parentheses and may contain spaces: count after the last ')'
        String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(fields[22 - 3]);
    }

    private void enter() {
        if (!gate.enter()) {
            throw new UffdClosedException("pidfd of pid " + pid + " is closed");
        }
    }

    /** Closes the descriptor; a waiting {@link #awaitExit} returns with {@link UffdClosedException}. Idempotent. */
    @Override
    public void close() {
        gate.closeDescriptor(fd, closeBell);
    }

    @Override
    public String toString() {
        return "Pidfd[pid " + pid + ", fd " + fd + "]";
    }
}
