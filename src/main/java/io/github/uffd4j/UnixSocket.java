package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;
import io.github.uffd4j.internal.linux.NativeSockets;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;

/**
 * A connected AF_UNIX {@code SOCK_SEQPACKET} socket that passes messages with descriptors
 * (SCM_RIGHTS) and reports its peer's credentials: the way to hand a userfaultfd and its memfds to
 * another process (a pager), which Java's own channels cannot do. Messages keep their boundaries;
 * each is at most {@link #MAX_MESSAGE} bytes with at most {@link #MAX_DESCRIPTORS} descriptors.
 *
 * <p>Made by {@link #pair()}, {@link #connect(Path)} or a {@link Listener}. Every descriptor it
 * creates or receives is close-on-exec.
 *
 * <p>Thread safe: one thread may send while another receives (each call moves one whole message,
 * so more threads may do either, their messages in the order the kernel takes them); any thread
 * may {@link #close()} it, which makes a {@link #receive} or a send waiting in another thread
 * return with {@link UffdClosedException}.
 */
public final class UnixSocket implements AutoCloseable {

    /** The largest message, in bytes, that {@link #send} sends and {@link #receive} accepts: 64 KiB. */
    public static final int MAX_MESSAGE = 65536;

    /** The most descriptors one message carries. */
    public static final int MAX_DESCRIPTORS = 16;

    private final int fd;
    private final Doorbell closeBell;
    private final CloseGate gate = new CloseGate();

    private UnixSocket(int fd, Doorbell closeBell) {
        this.fd = fd;
        this.closeBell = closeBell;
    }

    /** Wraps a connected socket descriptor, closing it when the wrapper cannot be made. */
    private static UnixSocket adopt(int fd) {
        try {
            return new UnixSocket(fd, Doorbell.create());
        } catch (RuntimeException e) {
            Native.close(fd);
            throw e;
        }
    }

    /**
     * Two sockets connected to each other: {@code socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)}.
     *
     * @return the two ends, each owned by the caller
     */
    public static UnixSocket[] pair() {
        Native.ensureAvailable();
        int a;
        int b;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(ValueLayout.JAVA_INT, 2);
            if (NativeSockets.socketpair(Abi.AF_UNIX, Abi.SOCK_SEQPACKET | Abi.SOCK_CLOEXEC, 0, fds) != 0) {
                throw Failures.socket("socketpair", Native.errno(), null);
            }
            a = fds.getAtIndex(ValueLayout.JAVA_INT, 0);
            b = fds.getAtIndex(ValueLayout.JAVA_INT, 1);
        }
        UnixSocket first;
        try {
            first = adopt(a);
        } catch (RuntimeException e) {
            Native.close(b);
            throw e;
        }
        try {
            return new UnixSocket[] {first, adopt(b)};
        } catch (RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /**
     * Connects to the {@link Listener} at {@code path}. Blocks while the listener's backlog is full.
     *
     * @param path the socket file
     * @return the connected socket, owned by the caller
     * @throws IllegalArgumentException if the path does not fit a unix socket address (107 bytes and a NUL)
     * @throws UffdException            {@code call()} "connect": ENOENT (no socket file), ECONNREFUSED
     *                                  (nobody listens), EACCES (permissions), ...
     */
    public static UnixSocket connect(Path path) {
        byte[] bytes = SocketIo.pathBytes(path);
        Native.ensureAvailable();
        int fd = SocketIo.newSocket(0);
        try (Arena arena = Arena.ofConfined()) {
            if (NativeSockets.connect(fd, SocketIo.address(arena, bytes), SocketIo.addressLength(bytes)) != 0) {
                throw Failures.socket("connect", Native.errno(), path);
            }
        } catch (RuntimeException e) {
            Native.close(fd);
            throw e;
        }
        return adopt(fd);
    }

    /**
     * Creates a socket file at {@code path} (mode 0777 less the process umask) and listens on it;
     * {@link Listener#close()} deletes the file.
     *
     * @param path where to create the socket file
     * @return the listener, owned by the caller
     * @throws IllegalArgumentException if the path does not fit a unix socket address (107 bytes and a NUL)
     * @throws UffdException            {@code call()} "bind": EADDRINUSE (a file exists at the path),
     *                                  EACCES (the directory is not writable), ENOENT (no such directory)
     */
    public static Listener listen(Path path) {
        byte[] bytes = SocketIo.pathBytes(path);
        Native.ensureAvailable();
        int fd = SocketIo.newSocket(Abi.SOCK_NONBLOCK);
        Object file = null;
        try (Arena arena = Arena.ofConfined()) {
            if (NativeSockets.bind(fd, SocketIo.address(arena, bytes), SocketIo.addressLength(bytes)) != 0) {
                throw Failures.socket("bind", Native.errno(), path);
            }
            file = SocketIo.fileKey(path);
            if (NativeSockets.listen(fd, Abi.SOMAXCONN) != 0) {
                throw Failures.socket("listen", Native.errno(), path);
            }
            return new Listener(path, fd, file);
        } catch (RuntimeException e) {
            Native.close(fd);
            SocketIo.deleteIfSame(path, file);
            throw e;
        }
    }

    /**
     * Sends {@code data} as one message with the descriptors {@code fds} (SCM_RIGHTS: the peer
     * receives new descriptors for the same open files; these stay open here). Waits while the
     * peer's queue is full. Never raises SIGPIPE (MSG_NOSIGNAL).
     *
     * @param data the message, 1 to {@link #MAX_MESSAGE} bytes
     * @param fds descriptors to pass along, none or more
     * @throws IllegalArgumentException if {@code data} is empty or longer than {@link #MAX_MESSAGE}
     *                                  (an empty message could not be told from the end of the
     *                                  stream), or there are more than {@link #MAX_DESCRIPTORS} descriptors
     * @throws UffdException            {@code call()} "sendmsg": EPIPE when the peer closed, EBADF for a bad descriptor
     * @throws UffdClosedException      if this socket is closed, also while waiting
     */
    public void send(byte[] data, int... fds) {
        acquire();
        try {
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(fds, "fds");
            if (data.length == 0 || data.length > MAX_MESSAGE) {
                throw new IllegalArgumentException("a message has 1 to " + MAX_MESSAGE + " bytes, not " + data.length);
            }
            if (fds.length > MAX_DESCRIPTORS) {
                throw new IllegalArgumentException("a message carries at most " + MAX_DESCRIPTORS + " descriptors, not " + fds.length);
            }
            SocketIo.send(fd, closeBell, data, fds);
        } finally {
            release();
        }
    }

    /**
     * Receives one message, waiting at most {@code timeout} (zero: not at all; a timeout too long
     * for a long of nanoseconds waits forever). Close the message, or take its descriptors.
     *
     * @param timeout the longest wait
     * @return the message; a message whose {@link Message#isEndOfStream()} is true when the peer
     *         closed its end; null when no message came in time
     * @throws UffdException       {@code call()} "recvmsg": also when a message was truncated because
     *                             the peer sent more than {@link #MAX_MESSAGE} bytes or
     *                             {@link #MAX_DESCRIPTORS} descriptors (those that arrived are closed)
     * @throws UffdClosedException if this socket is closed, also while waiting
     */
    public Message receive(Duration timeout) {
        long nanos = RangeChecks.timeoutNanos(timeout);
        acquire();
        try {
            return SocketIo.receive(fd, closeBell, nanos);
        } finally {
            release();
        }
    }

    /**
     * The peer's process id, user id and group id as the kernel recorded them when the connection
     * was made (SO_PEERCRED): they do not change when the peer later changes its ids, and the pid
     * may by now name another process (see {@link #peerPidfd()}).
     *
     * @return the peer's credentials
     */
    public PeerCredentials peer() {
        acquire();
        try {
            return SocketIo.peerCredentials(fd);
        } finally {
            release();
        }
    }

    /**
     * A new pidfd of the peer process (SO_PEERPIDFD, Linux 6.5+): unlike a pid it cannot come to
     * name another process. The caller owns it: close it with {@link #closeDescriptor(int)}.
     *
     * @return the pidfd, owned by the caller
     * @throws UnsupportedOperationException on kernels before 6.5
     */
    public int peerPidfd() {
        acquire();
        try {
            return SocketIo.peerPidfd(fd);
        } finally {
            release();
        }
    }

    /**
     * The socket's descriptor, owned by this object: do not close it.
     *
     * @return the descriptor number
     */
    public int fd() {
        return fd;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return gate.isClosed();
    }

    /**
     * Closes the socket: the peer sees the end of the stream. A {@link #receive} or send waiting
     * in another thread returns with {@link UffdClosedException}; later calls throw it too.
     * Idempotent.
     */
    @Override
    public void close() {
        gate.closeDescriptor(fd, closeBell);
    }

    /**
     * Closes a descriptor received in a {@link Message} (taken with {@link Message#takeFd}) that was not
     * handed on.
     *
     * @param fd the received descriptor
     */
    public static void closeDescriptor(int fd) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        Native.ensureAvailable();
        if (Native.close(fd) != 0 && Native.errno() != Errno.EINTR) { // after EINTR Linux has closed it
            throw Failures.of("close", Native.errno());
        }
    }

    /**
     * The real user id of this process (getuid), to compare with {@link PeerCredentials#uid()}.
     *
     * @return the uid
     */
    public static int currentUid() {
        Native.ensureAvailable();
        return NativeSockets.getuid();
    }

    /**
     * The real group id of this process (getgid), to compare with {@link PeerCredentials#gid()}.
     *
     * @return the gid
     */
    public static int currentGid() {
        Native.ensureAvailable();
        return NativeSockets.getgid();
    }

    private void acquire() {
        if (!gate.enter()) {
            throw new UffdClosedException("unix socket " + fd + " is closed");
        }
    }

    private void release() {
        gate.exit();
    }

    @Override
    public String toString() {
        return "UnixSocket[fd=" + fd + (isClosed() ? ", closed" : "") + "]";
    }

    /**
     * The credentials of a socket's peer at connect time (SO_PEERCRED).
     *
     * @param pid the peer's process id (in this process's pid namespace; 0 when it has none there)
     * @param uid the peer's effective user id
     * @param gid the peer's effective group id
     */
    public record PeerCredentials(int pid, int uid, int gid) {
    }

    /**
     * One received message: its bytes and the descriptors that came with it, which this object
     * owns until {@link #takeFd taken}; {@link #close()} closes the others. Not thread safe beyond
     * its methods being synchronized: meant for the thread that received it.
     */
    public static final class Message implements AutoCloseable {

        private final byte[] data;
        private final int[] fds;
        private final boolean[] taken;
        private final boolean endOfStream;
        private boolean closed;

        Message(byte[] data, int[] fds) {
            this(data, fds, false);
        }

        private Message(byte[] data, int[] fds, boolean endOfStream) {
            this.data = data;
            this.fds = fds;
            this.taken = new boolean[fds.length];
            this.endOfStream = endOfStream;
        }

        static Message endOfStream() {
            return new Message(new byte[0], new int[0], true);
        }

        /**
         * A copy of the message's bytes (empty at the end of the stream).
         *
         * @return the bytes
         */
        public byte[] data() {
            return data.clone();
        }

        /**
         * How many descriptors came with the message, taken or not.
         *
         * @return the number of descriptors
         */
        public int fdCount() {
            return fds.length;
        }

        /**
         * Whether this is no message but the end of the stream: the peer closed its end.
         *
         * @return true at the end of the stream
         */
        public boolean isEndOfStream() {
            return endOfStream;
        }

        /**
         * Hands descriptor {@code index} over to the caller, who must close it (or keep it);
         * {@link #close()} no longer will.
         *
         * @param index which descriptor, from 0
         * @return the descriptor, now the caller's
         * @throws IndexOutOfBoundsException unless {@code 0 <= index < fdCount()}
         * @throws IllegalStateException     if it was taken already or the message is closed
         */
        public synchronized int takeFd(int index) {
            Objects.checkIndex(index, fds.length);
            if (closed) {
                throw new IllegalStateException("the message is closed: its descriptors were closed");
            }
            if (taken[index]) {
                throw new IllegalStateException("descriptor " + index + " (" + fds[index] + ") was taken already");
            }
            taken[index] = true;
            return fds[index];
        }

        /** Closes every descriptor that was not taken. Idempotent. */
        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            for (int i = 0; i < fds.length; i++) {
                if (!taken[i]) {
                    Native.close(fds[i]);
                }
            }
        }

        @Override
        public synchronized String toString() {
            return endOfStream ? "Message[end of stream]"
                    : "Message[" + data.length + " bytes, fds=" + Arrays.toString(fds) + (closed ? ", closed" : "") + "]";
        }
    }

    /**
     * A listening socket bound to a socket file. Thread safe: several threads may accept; any
     * thread may {@link #close()} it, which makes an {@link #accept} waiting in another thread
     * return with {@link UffdClosedException}.
     */
    public static final class Listener implements AutoCloseable {

        private final Path path;
        private final int fd;
        private final Object fileKey;
        private final Doorbell closeBell;
        private final CloseGate gate = new CloseGate();

        private Listener(Path path, int fd, Object fileKey) {
            this.path = path;
            this.fd = fd;
            this.fileKey = fileKey;
            this.closeBell = Doorbell.create();
        }

        /**
         * The socket file's path, as given to {@link UnixSocket#listen(Path)}.
         *
         * @return the path
         */
        public Path path() {
            return path;
        }

        /**
         * Accepts one connection, waiting at most {@code timeout} (zero: not at all; a timeout too
         * long for a long of nanoseconds waits forever): the connected socket, or null when no
         * client came in time.
         *
         * @param timeout the longest wait
         * @return the connected socket, owned by the caller, or null
         * @throws UffdClosedException if this listener is closed, also while waiting
         */
        public UnixSocket accept(Duration timeout) {
            long deadline = SocketIo.deadline(RangeChecks.timeoutNanos(timeout));
            if (!gate.enter()) {
                throw new UffdClosedException("the listener on " + path + " is closed");
            }
            try {
                int s = SocketIo.accept(fd, closeBell, deadline, path);
                return s < 0 ? null : adopt(s);
            } finally {
                gate.exit();
            }
        }

        /**
         * Whether {@link #close()} was called.
         *
         * @return true once closed
         */
        public boolean isClosed() {
            return gate.isClosed();
        }

        /**
         * Closes the socket and deletes the socket file (unless another file has replaced it).
         * Connections already accepted stay open. Idempotent.
         */
        @Override
        public void close() {
            if (gate.closeDescriptor(fd, closeBell)) {
                SocketIo.deleteIfSame(path, fileKey);
            }
        }

        @Override
        public String toString() {
            return "UnixSocket.Listener[" + path + ", fd=" + fd + (isClosed() ? ", closed" : "") + "]";
        }
    }
}
