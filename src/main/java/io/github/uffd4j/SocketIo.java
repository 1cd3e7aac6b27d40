package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;
import io.github.uffd4j.internal.linux.NativeSockets;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The native mechanics of {@link UnixSocket}: socket addresses, sendmsg/recvmsg with SCM_RIGHTS
 * control messages, and waiting in poll(2) on a socket and its close {@link Doorbell}. Sends and
 * receives use MSG_DONTWAIT and wait in poll, so that no thread stays blocked in the kernel after
 * the socket was closed; the descriptors themselves stay blocking. Native memory comes from a
 * confined arena per call. Stateless: thread safe.
 */
final class SocketIo {

    /** Control buffer for the largest message {@link UnixSocket} receives: CMSG_SPACE of 16 ints. */
    private static final long CONTROL_BYTES = Abi.cmsgSpace((long) UnixSocket.MAX_DESCRIPTORS * Integer.BYTES);
    private static final Charset PATH_CHARSET =
            Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"), StandardCharsets.UTF_8);

    private SocketIo() {
    }

    // ---- addresses and sockets -----------------------------------------------------------------

    /**
     * The bytes of {@code path} as the kernel will see them, without the NUL.
     *
     * @throws IllegalArgumentException when the path and its NUL do not fit sun_path (108 bytes), or it contains a NUL
     */
    static byte[] pathBytes(Path path) {
        Objects.requireNonNull(path, "path");
        byte[] bytes = path.toString().getBytes(PATH_CHARSET);
        long room = Abi.SOCKADDR_UN_PATH_BYTES;
        if (bytes.length == 0 || bytes.length + 1 > room) {
            throw new IllegalArgumentException("a unix socket path takes 1 to " + (room - 1) + " bytes (sun_path holds "
                    + room + " with its NUL); " + path + " has " + bytes.length + ": use a shorter path, e.g. relative or in /tmp");
        }
        for (byte b : bytes) {
            if (b == 0) {
                throw new IllegalArgumentException("a unix socket path cannot contain a NUL byte: " + path);
            }
        }
        return bytes;
    }

    /** A struct sockaddr_un for {@code path} (from {@link #pathBytes}); its length is {@link #addressLength}. */
    static MemorySegment address(Arena arena, byte[] path) {
        MemorySegment a = arena.allocate(Abi.SOCKADDR_UN_SIZE, 8);
        a.set(ValueLayout.JAVA_SHORT, Abi.SOCKADDR_UN_FAMILY, (short) Abi.AF_UNIX);
        MemorySegment.copy(path, 0, a, ValueLayout.JAVA_BYTE, Abi.SOCKADDR_UN_PATH, path.length);
        return a;
    }

    /** The address length to pass with {@link #address}: up to and including the path's NUL. */
    static int addressLength(byte[] path) {
        return (int) (Abi.SOCKADDR_UN_PATH + path.length + 1);
    }

    /** A new close-on-exec AF_UNIX SOCK_SEQPACKET socket, with {@code extraFlags} (SOCK_NONBLOCK) added. */
    static int newSocket(int extraFlags) {
        int fd = NativeSockets.socket(Abi.AF_UNIX, Abi.SOCK_SEQPACKET | Abi.SOCK_CLOEXEC | extraFlags, 0);
        if (fd < 0) {
            throw Failures.socket("socket", Native.errno(), null);
        }
        return fd;
    }

    /** The identity (device and inode) of the file at {@code path}, or null when it cannot be read. */
    static Object fileKey(Path path) {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Deletes {@code path} if it is still the file {@code key} names (not one made since by someone else). */
    static void deleteIfSame(Path path, Object key) {
        if (key != null && key.equals(fileKey(path))) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // the directory's permissions changed: the file stays, as a crashed listener's would
            }
        }
    }

    /**
     * accept4(2) on the non-blocking listening socket {@code fd}, waiting in poll until
     * {@code deadline}: the connected socket's descriptor (close-on-exec, blocking), or -1 when
     * the deadline passed.
     */
    static int accept(int fd, Doorbell bell, long deadline, Path path) {
        for (;;) {
            int s = NativeSockets.accept4(fd, Abi.SOCK_CLOEXEC);
            if (s >= 0) {
                return s;
            }
            int e = Native.errno();
            if (e == Errno.EAGAIN) {
                if (!await(fd, Abi.POLLIN, bell, deadline, "unix socket", "accepting on " + path)) {
                    return -1;
                }
            } else if (e != Errno.EINTR) {
                throw Failures.socket("accept4", e, path);
            }
        }
    }

    // ---- timeouts and waiting ---------------------------------------------------------------------


    /** The deadline of a timeout from {@link RangeChecks#timeoutNanos}, or Long.MAX_VALUE for none. */
    static long deadline(long timeoutNanos) {
        return timeoutNanos == Long.MAX_VALUE ? Long.MAX_VALUE : System.nanoTime() + timeoutNanos;
    }

    /**
     * Waits in poll(2) until {@code fd} reports one of {@code events} (or an error or hang-up),
     * {@code bell} rings, or the {@code deadline} passes. Returns false when the deadline passed,
     * true otherwise (also after EINTR: the caller simply tries again).
     *
     * @throws UffdClosedException when {@code bell} (the owner's close doorbell) rang: "{@code kind}
     *                             {@code fd} was closed while {@code what}"
     */
    static boolean await(int fd, int events, Doorbell bell, long deadline, String kind, String what) {
        int millis;
        if (deadline == Long.MAX_VALUE) {
            millis = -1;
        } else {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            millis = RangeChecks.pollMillis(left);
        }
        MemorySegment fds = Native.thread().struct(2 * Abi.POLLFD_SIZE);
        fds.set(JAVA_INT, Abi.POLLFD_FD, fd);
        fds.set(ValueLayout.JAVA_SHORT, Abi.POLLFD_EVENTS, (short) events);
        fds.set(JAVA_INT, Abi.POLLFD_SIZE + Abi.POLLFD_FD, bell.fd());
        fds.set(ValueLayout.JAVA_SHORT, Abi.POLLFD_SIZE + Abi.POLLFD_EVENTS, (short) Abi.POLLIN);
        int rc = Native.poll(fds, 2, millis);
        if (rc < 0 && Native.errno() != Errno.EINTR) {
            throw Failures.of("poll", Native.errno());
        }
        if (bell.isRung() || fds.get(ValueLayout.JAVA_SHORT, Abi.POLLFD_SIZE + Abi.POLLFD_REVENTS) != 0) {
            throw new UffdClosedException(kind + " " + fd + " was closed while " + what);
        }
        return rc != 0 || deadline == Long.MAX_VALUE;
    }

    // ---- messages ---------------------------------------------------------------------------------

    /** sendmsg(2) of one message with its descriptors (SCM_RIGHTS), waiting while the peer's queue is full. */
    static void send(int fd, Doorbell bell, byte[] data, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(data.length);
            MemorySegment.copy(data, 0, buffer, ValueLayout.JAVA_BYTE, 0, data.length);
            MemorySegment msg = header(arena, buffer, data.length);
            if (fds.length > 0) {
                long space = Abi.cmsgSpace((long) fds.length * Integer.BYTES);
                MemorySegment control = arena.allocate(space, 8);
                control.set(JAVA_LONG, Abi.CMSGHDR_LEN, Abi.cmsgLen((long) fds.length * Integer.BYTES));
                control.set(JAVA_INT, Abi.CMSGHDR_LEVEL, Abi.SOL_SOCKET);
                control.set(JAVA_INT, Abi.CMSGHDR_TYPE, Abi.SCM_RIGHTS);
                MemorySegment.copy(fds, 0, control, JAVA_INT, Abi.CMSG_DATA, fds.length);
                msg.set(ADDRESS, Abi.MSGHDR_CONTROL, control);
                msg.set(JAVA_LONG, Abi.MSGHDR_CONTROLLEN, space);
            }
            for (;;) {
                long n = NativeSockets.sendmsg(fd, msg, Abi.MSG_NOSIGNAL | Abi.MSG_DONTWAIT);
                if (n >= 0) {
                    return; // a SOCK_SEQPACKET message is sent whole or not at all
                }
                int e = Native.errno();
                if (e == Errno.EAGAIN) {
                    await(fd, Abi.POLLOUT, bell, Long.MAX_VALUE, "unix socket", "sending");
                } else if (e != Errno.EINTR) {
                    throw Failures.socket("sendmsg", e, null);
                }
            }
        }
    }

    /**
     * recvmsg(2) of one message, waiting until {@code deadline}: the message, an end-of-stream
     * message when the peer closed, or null when the deadline passed.
     */
    static UnixSocket.Message receive(int fd, Doorbell bell, long timeoutNanos) {
        long deadline = deadline(timeoutNanos);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(UnixSocket.MAX_MESSAGE);
            MemorySegment control = arena.allocate(CONTROL_BYTES, 8);
            MemorySegment msg = header(arena, buffer, UnixSocket.MAX_MESSAGE);
            msg.set(ADDRESS, Abi.MSGHDR_CONTROL, control);
            for (;;) {
                msg.set(JAVA_LONG, Abi.MSGHDR_CONTROLLEN, CONTROL_BYTES);
                msg.set(JAVA_INT, Abi.MSGHDR_FLAGS, 0);
                long n = NativeSockets.recvmsg(fd, msg, Abi.MSG_DONTWAIT | Abi.MSG_CMSG_CLOEXEC);
                if (n >= 0) {
                    int[] fds = descriptors(control, msg.get(JAVA_LONG, Abi.MSGHDR_CONTROLLEN));
                    checkWhole(msg.get(JAVA_INT, Abi.MSGHDR_FLAGS), fds);
                    if (n == 0 && fds.length == 0) {
                        return UnixSocket.Message.endOfStream();
                    }
                    return new UnixSocket.Message(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), fds);
                }
                int e = Native.errno();
                if (e == Errno.EAGAIN) {
                    if (!await(fd, Abi.POLLIN, bell, deadline, "unix socket", "receiving")) {
                        return null;
                    }
                } else if (e != Errno.EINTR) {
                    throw Failures.socket("recvmsg", e, null);
                }
            }
        }
    }

    /** A struct msghdr with one iovec over {@code length} bytes of {@code buffer}, no control buffer yet. */
    private static MemorySegment header(Arena arena, MemorySegment buffer, long length) {
        MemorySegment iov = arena.allocate(Abi.IOVEC_SIZE, 8);
        Native.iovec(iov, 0, buffer.address(), length);
        MemorySegment msg = arena.allocate(Abi.MSGHDR_SIZE, 8);
        msg.set(ADDRESS, Abi.MSGHDR_IOV, iov);
        msg.set(JAVA_LONG, Abi.MSGHDR_IOVLEN, 1L);
        return msg;
    }

    /** The descriptors of every SCM_RIGHTS control message in the first {@code length} bytes of {@code control}. */
    private static int[] descriptors(MemorySegment control, long length) {
        int[] fds = new int[0];
        long at = 0;
        while (at + Abi.CMSG_DATA <= length) {
            long len = control.get(JAVA_LONG, at + Abi.CMSGHDR_LEN);
            if (len < Abi.CMSG_DATA || at + len > length) {
                break;
            }
            if (control.get(JAVA_INT, at + Abi.CMSGHDR_LEVEL) == Abi.SOL_SOCKET
                    && control.get(JAVA_INT, at + Abi.CMSGHDR_TYPE) == Abi.SCM_RIGHTS) {
                int count = (int) ((len - Abi.CMSG_DATA) / Integer.BYTES);
                int old = fds.length;
                fds = Arrays.copyOf(fds, old + count);
                MemorySegment.copy(control, JAVA_INT, at + Abi.CMSG_DATA, fds, old, count);
            }
            at += Abi.cmsgAlign(len);
        }
        return fds;
    }

    /** Throws, after closing the descriptors that did arrive, when the kernel cut the message or its descriptors short. */
    private static void checkWhole(int flags, int[] fds) {
        boolean data = (flags & Abi.MSG_TRUNC) != 0;
        boolean control = (flags & Abi.MSG_CTRUNC) != 0;
        if (!data && !control) {
            return;
        }
        for (int fd : fds) {
            Native.close(fd);
        }
        String what = data
                ? "it was longer than " + UnixSocket.MAX_MESSAGE + " bytes (MSG_TRUNC)"
                : "it carried more than " + UnixSocket.MAX_DESCRIPTORS + " descriptors (MSG_CTRUNC)";
        throw new UffdException("recvmsg", 0, "recvmsg: the message was truncated: " + what + "; the rest was discarded by "
                + "the kernel and the " + fds.length + " descriptors that arrived were closed. The peer does not follow "
                + "UnixSocket's limits");
    }

    // ---- socket options ---------------------------------------------------------------------------

    /** getsockopt(SOL_SOCKET, SO_PEERCRED). */
    static UnixSocket.PeerCredentials peerCredentials(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cred = arena.allocate(Abi.UCRED_SIZE, 4);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, (int) Abi.UCRED_SIZE);
            if (NativeSockets.getsockopt(fd, Abi.SOL_SOCKET, Abi.SO_PEERCRED, cred, len) != 0) {
                throw Failures.socket("getsockopt(SO_PEERCRED)", Native.errno(), null);
            }
            return new UnixSocket.PeerCredentials(cred.get(JAVA_INT, Abi.UCRED_PID), cred.get(JAVA_INT, Abi.UCRED_UID),
                    cred.get(JAVA_INT, Abi.UCRED_GID));
        }
    }

    /** getsockopt(SOL_SOCKET, SO_PEERPIDFD): a new pidfd. */
    static int peerPidfd(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pidfd = arena.allocate(JAVA_INT);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, Integer.BYTES);
            if (NativeSockets.getsockopt(fd, Abi.SOL_SOCKET, Abi.SO_PEERPIDFD, pidfd, len) != 0) {
                int e = Native.errno();
                if (e == Errno.ENOPROTOOPT) {
                    throw new UnsupportedOperationException("SO_PEERPIDFD needs Linux 6.5 or newer; this kernel is "
                            + System.getProperty("os.version") + ": use peer() for the pid, uid and gid");
                }
                throw Failures.socket("getsockopt(SO_PEERPIDFD)", e, null);
            }
            return pidfd.get(JAVA_INT, 0);
        }
    }
}
