package io.github.uffd4j.internal.linux;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Native calls only the tests make (descriptor copies, child processes). Linked through
 * {@link Native#link}, so the restricted FFM calls stay in Native; errno is read with
 * {@link Native#errno()} as for every other call.
 */
public final class TestNatives {

    private TestNatives() {
    }

    static final class Signatures {
        static final FunctionDescriptor DUP = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        static final FunctionDescriptor WAITPID = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor KILL = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
        /** glibc's {@code clone(fn, stack, flags, arg, ...)}. */
        static final FunctionDescriptor CLONE = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
    }

    private static final class Dup {
        static final MethodHandle H = Native.link("dup", Signatures.DUP, -1);
    }

    private static final class Waitpid {
        static final MethodHandle H = Native.link("waitpid", Signatures.WAITPID, -1);
    }

    private static final class Kill {
        static final MethodHandle H = Native.link("kill", Signatures.KILL, -1);
    }

    private static final class Clone {
        static final MethodHandle H = Native.link("clone", Signatures.CLONE, 4);
    }

    private static MemorySegment capture() {
        return Native.thread().capture;
    }

    /** {@code dup(fd)}: a new descriptor for the same open file. */
    public static int dup(int fd) {
        try {
            return (int) Dup.H.invokeExact(capture(), fd);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /** {@code waitpid(pid, status, options)}; {@code status} receives an int. */
    public static int waitpid(int pid, MemorySegment status, int options) {
        try {
            return (int) Waitpid.H.invokeExact(capture(), pid, status, options);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    public static int kill(int pid, int signal) {
        try {
            return (int) Kill.H.invokeExact(capture(), pid, signal);
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    /**
     * Starts a child process (a copy of this one, like fork) that runs the C function
     * {@code fn(arg)} on {@code stack} and exits with its return value: glibc's
     * {@code clone(fn, stackTop, SIGCHLD, arg)}. The child never runs Java code. A JVM forked
     * with fork() continues in Java in the child, where it can block forever on a safepoint the
     * parent had started (the child has no VM thread to end it); and glibc's fork() holds the
     * malloc locks while the kernel waits for a UFFD_FEATURE_EVENT_FORK event to be read, which a
     * JVM thread cannot do without malloc. Returns the child's pid, or -1.
     */
    public static int cloneCalling(MemorySegment fn, MemorySegment stackTop, long arg) {
        try {
            return (int) Clone.H.invokeExact(capture(), fn, stackTop, SIGCHLD, MemorySegment.ofAddress(arg));
        } catch (Throwable t) {
            throw Native.rethrow(t);
        }
    }

    private static final int SIGCHLD = io.github.uffd4j.internal.gen.UffdNative.SIGCHLD();
    /** waitpid's WNOHANG. */
    public static final int WNOHANG = io.github.uffd4j.internal.gen.UffdNative.WNOHANG();
    /** SIGKILL. */
    public static final int SIGKILL = io.github.uffd4j.internal.gen.UffdNative.SIGKILL();

    /** The address of the C library's {@code strlen}, a function a cloned child can run. */
    public static MemorySegment strlenAddress() {
        return Linker.nativeLinker().defaultLookup().find("strlen").orElseThrow();
    }
}
