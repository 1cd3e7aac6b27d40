package io.github.uffd4j.internal.linux;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The socket calls of {@code io.github.uffd4j.UnixSocket}, kept apart from {@link Native} (which
 * holds the userfaultfd and memory calls) but made the same way: a holder class per function,
 * linked on its first call through {@link Native#link} with errno captured; after a failure
 * {@link Native#errno()} gives the errno. Each wrapper returns what the C function returns.
 *
 * <p>glibc declares bind, connect and accept4 with transparent unions of sockaddr pointers; the C
 * ABI passes such a union as its first member, a pointer, which is how they are linked here.
 * Thread safe.
 */
public final class NativeSockets {

    private NativeSockets() {
    }

    /** The C signatures; a test compares each with the descriptor jextract generated. */
    static final class Signatures {
        static final FunctionDescriptor SOCKET = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor SOCKETPAIR = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS);
        static final FunctionDescriptor BIND = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor LISTEN = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor ACCEPT4 = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);
        static final FunctionDescriptor CONNECT = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor GETSOCKOPT = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
        static final FunctionDescriptor SENDMSG = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor RECVMSG = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor GETUID = FunctionDescriptor.of(JAVA_INT);
        static final FunctionDescriptor GETGID = FunctionDescriptor.of(JAVA_INT);
    }

    private static final class Socket {
        static final MethodHandle H = Native.link("socket", Signatures.SOCKET, -1);
    }

    private static final class Socketpair {
        static final MethodHandle H = Native.link("socketpair", Signatures.SOCKETPAIR, -1);
    }

    private static final class Bind {
        static final MethodHandle H = Native.link("bind", Signatures.BIND, -1);
    }

    private static final class Listen {
        static final MethodHandle H = Native.link("listen", Signatures.LISTEN, -1);
    }

    private static final class Accept4 {
        static final MethodHandle H = Native.link("accept4", Signatures.ACCEPT4, -1);
    }

    private static final class Connect {
        static final MethodHandle H = Native.link("connect", Signatures.CONNECT, -1);
    }

    private static final class Getsockopt {
        static final MethodHandle H = Native.link("getsockopt", Signatures.GETSOCKOPT, -1);
    }

    private static final class Sendmsg {
        static final MethodHandle H = Native.link("sendmsg", Signatures.SENDMSG, -1);
    }

    private static final class Recvmsg {
        static final MethodHandle H = Native.link("recvmsg", Signatures.RECVMSG, -1);
    }

    private static final class Getuid {
        static final MethodHandle H = Native.link("getuid", Signatures.GETUID, -1);
    }

    private static final class Getgid {
        static final MethodHandle H = Native.link("getgid", Signatures.GETGID, -1);
    }

    private static MemorySegment capture() {
        return Native.thread().capture;
    }

    public static int socket(int domain, int type, int protocol) {
        try {
            return (int) Socket.H.invokeExact(capture(), domain, type, protocol);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code socketpair(domain, type, protocol, fds)}; {@code fds} receives two ints. */
    public static int socketpair(int domain, int type, int protocol, MemorySegment fds) {
        try {
            return (int) Socketpair.H.invokeExact(capture(), domain, type, protocol, fds);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int bind(int fd, MemorySegment address, int length) {
        try {
            return (int) Bind.H.invokeExact(capture(), fd, address, length);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int listen(int fd, int backlog) {
        try {
            return (int) Listen.H.invokeExact(capture(), fd, backlog);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code accept4(fd, NULL, NULL, flags)}: the peer's address is not asked for. */
    public static int accept4(int fd, int flags) {
        try {
            return (int) Accept4.H.invokeExact(capture(), fd, MemorySegment.NULL, MemorySegment.NULL, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int connect(int fd, MemorySegment address, int length) {
        try {
            return (int) Connect.H.invokeExact(capture(), fd, address, length);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code getsockopt(fd, level, name, value, length)}; {@code length} is a socklen_t (int) in and out. */
    public static int getsockopt(int fd, int level, int name, MemorySegment value, MemorySegment length) {
        try {
            return (int) Getsockopt.H.invokeExact(capture(), fd, level, name, value, length);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code sendmsg(fd, msghdr, flags)}: bytes sent, or -1. */
    public static long sendmsg(int fd, MemorySegment message, int flags) {
        try {
            return (long) Sendmsg.H.invokeExact(capture(), fd, message, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code recvmsg(fd, msghdr, flags)}: bytes received (0 at the end of the stream), or -1. */
    public static long recvmsg(int fd, MemorySegment message, int flags) {
        try {
            return (long) Recvmsg.H.invokeExact(capture(), fd, message, flags);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The real user id of this process (never fails). */
    public static int getuid() {
        try {
            return (int) Getuid.H.invokeExact(capture());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** The real group id of this process (never fails). */
    public static int getgid() {
        try {
            return (int) Getgid.H.invokeExact(capture());
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }
}
