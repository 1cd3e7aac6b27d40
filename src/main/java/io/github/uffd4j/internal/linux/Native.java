package io.github.uffd4j.internal.linux;

import io.github.uffd4j.internal.gen.UffdNative;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.function.Consumer;

/**
 * Every native call uffd4j makes, and the only class that uses restricted FFM methods.
 *
 * <p>The downcall handles are built from the addresses and descriptors jextract generated in
 * {@link UffdNative}, adding {@code Linker.Option.captureCallState("errno")} (jextract does not
 * capture errno) and, for the variadic {@code ioctl}, {@code syscall}, {@code open} and
 * {@code mremap}, the exact variadic argument layouts. Each wrapper returns what the C function
 * returns; after a failure {@link #errno()} gives the errno of the calling thread's last call.
 * Nothing here allocates on the Java heap after a thread's first call: the errno capture buffer
 * and a small scratch buffer for ioctl arguments are kept per thread.
 */
@SuppressWarnings("restricted")
public final class Native {

    /** Size of the per-thread scratch buffer handed out by {@link #scratch()}. */
    public static final int SCRATCH_BYTES = 256;

    private Native() {
    }

    // ---- availability ------------------------------------------------------------------

    private static final String UNAVAILABLE = probeAvailability();

    private static String probeAvailability() {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(java.util.Locale.ROOT).startsWith("linux")) {
            return "userfaultfd exists only on Linux; this is " + os;
        }
        String arch = System.getProperty("os.arch", "");
        if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("aarch64")) {
            return "uffd4j's generated bindings are for x86_64 and aarch64 Linux; this is " + arch;
        }
        Module module = Native.class.getModule();
        if (!module.isNativeAccessEnabled()) {
            String flag = module.isNamed()
                    ? "--enable-native-access=" + module.getName()
                    : "--enable-native-access=ALL-UNNAMED";
            return "uffd4j calls native code and needs native access: start java with " + flag
                    + " (or add 'Enable-Native-Access: ALL-UNNAMED' to an executable jar's manifest)";
        }
        return null;
    }

    /** Whether native calls can be made in this JVM. */
    public static boolean isAvailable() {
        return UNAVAILABLE == null;
    }

    /** Why native calls cannot be made, or {@code null} when they can. */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    /**
     * A constant from the generated bindings, or 0 when native access is not available: lets
     * classes read C constants in static initializers without touching the generated classes
     * (whose initialization calls restricted methods) in a JVM that denies native access.
     */
    public static long constant(java.util.function.LongSupplier value) {
        return UNAVAILABLE == null ? value.getAsLong() : 0;
    }

    /** Like {@link #constant(java.util.function.LongSupplier)}, for int constants. */
    public static int constant(java.util.function.IntSupplier value) {
        return UNAVAILABLE == null ? value.getAsInt() : 0;
    }

    /**
     * Throws an {@link UnsupportedOperationException} that says what to change when native calls
     * cannot be made (wrong OS, or the JVM was started without native access for uffd4j).
     */
    public static void ensureAvailable() {
        if (UNAVAILABLE != null) {
            throw new UnsupportedOperationException(UNAVAILABLE);
        }
    }

    // ---- per-thread errno capture and scratch ---------------------------------------------

    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final class ThreadBuffers {
        final MemorySegment capture;
        final MemorySegment scratch;

        ThreadBuffers() {
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            scratch = arena.allocate(SCRATCH_BYTES, 16);
        }
    }

    private static final ThreadLocal<ThreadBuffers> BUFFERS = ThreadLocal.withInitial(ThreadBuffers::new);

    private static MemorySegment capture() {
        return BUFFERS.get().capture;
    }

    /** The errno left by the calling thread's last failed call through this class. */
    public static int errno() {
        return (int) ERRNO.get(capture(), 0L);
    }

    /**
     * A zero-filled buffer of {@link #SCRATCH_BYTES} bytes owned by the calling thread, for ioctl
     * arguments. It is reused by the next call to this method on the same thread.
     */
    public static MemorySegment scratch() {
        MemorySegment s = BUFFERS.get().scratch;
        s.fill((byte) 0);
        return s;
    }

    // ---- downcall handles -------------------------------------------------------------------

    private static final class Handles {
        static final Linker LINKER = Linker.nativeLinker();
        static final Linker.Option ERRNO = Linker.Option.captureCallState("errno");
        static final AddressLayout PTR = UffdNative.C_POINTER;

        static MethodHandle plain(MemorySegment address, FunctionDescriptor descriptor) {
            return LINKER.downcallHandle(address, descriptor, ERRNO);
        }

        static MethodHandle variadic(MemorySegment address, FunctionDescriptor descriptor, int firstVariadic) {
            return LINKER.downcallHandle(address, descriptor, ERRNO, Linker.Option.firstVariadicArg(firstVariadic));
        }

        /**
         * The generated descriptor with every pointer (argument and result) passed as a long: the
         * same machine word in the C calling convention, and no MemorySegment to allocate per
         * call. For the calls that take raw addresses on hot paths (madvise on every page load).
         */
        static FunctionDescriptor addressesAsLongs(FunctionDescriptor d) {
            MemoryLayout[] args = d.argumentLayouts().stream()
                    .map(l -> l instanceof AddressLayout ? ValueLayout.JAVA_LONG : l)
                    .toArray(MemoryLayout[]::new);
            return d.returnLayout()
                    .map(r -> FunctionDescriptor.of(r instanceof AddressLayout ? ValueLayout.JAVA_LONG : r, args))
                    .orElseGet(() -> FunctionDescriptor.ofVoid(args));
        }

        static final MethodHandle IOCTL_PTR = variadic(UffdNative.ioctl.address(),
                UffdNative.ioctl.makeInvoker(PTR).descriptor(), 2);
        static final MethodHandle IOCTL_INT = variadic(UffdNative.ioctl.address(),
                UffdNative.ioctl.makeInvoker(UffdNative.C_INT).descriptor(), 2);
        static final MethodHandle SYSCALL_INT = variadic(UffdNative.syscall.address(),
                UffdNative.syscall.makeInvoker(UffdNative.C_INT).descriptor(), 1);
        static final MethodHandle CLONE = variadic(UffdNative.clone.address(),
                UffdNative.clone.makeInvoker().descriptor(), 4);
        static final MethodHandle OPEN = variadic(UffdNative.open.address(),
                UffdNative.open.makeInvoker(UffdNative.C_INT).descriptor(), 2);
        static final MethodHandle MREMAP = variadic(UffdNative.mremap.address(),
                addressesAsLongs(UffdNative.mremap.makeInvoker(PTR).descriptor()), 4);
        static final MethodHandle CLOSE = plain(UffdNative.close$address(), UffdNative.close$descriptor());
        static final MethodHandle DUP = plain(UffdNative.dup$address(), UffdNative.dup$descriptor());
        static final MethodHandle READ = plain(UffdNative.read$address(), UffdNative.read$descriptor());
        static final MethodHandle WRITE = plain(UffdNative.write$address(), UffdNative.write$descriptor());
        static final MethodHandle POLL = plain(UffdNative.poll$address(), UffdNative.poll$descriptor());
        static final MethodHandle EVENTFD = plain(UffdNative.eventfd$address(), UffdNative.eventfd$descriptor());
        static final MethodHandle MMAP = plain(UffdNative.mmap$address(), addressesAsLongs(UffdNative.mmap$descriptor()));
        static final MethodHandle MUNMAP = plain(UffdNative.munmap$address(), addressesAsLongs(UffdNative.munmap$descriptor()));
        static final MethodHandle PROCESS_VM_READV = plain(UffdNative.process_vm_readv$address(),
                UffdNative.process_vm_readv$descriptor());
        static final MethodHandle MADVISE = plain(UffdNative.madvise$address(), addressesAsLongs(UffdNative.madvise$descriptor()));
        static final MethodHandle MEMFD_CREATE = plain(UffdNative.memfd_create$address(), UffdNative.memfd_create$descriptor());
        static final MethodHandle FTRUNCATE = plain(UffdNative.ftruncate$address(), UffdNative.ftruncate$descriptor());
        static final MethodHandle SYSCONF = plain(UffdNative.sysconf$address(), UffdNative.sysconf$descriptor());
        static final MethodHandle GETTID = plain(UffdNative.gettid$address(), UffdNative.gettid$descriptor());
        static final MethodHandle WAITPID = plain(UffdNative.waitpid$address(), UffdNative.waitpid$descriptor());
        static final MethodHandle KILL = plain(UffdNative.kill$address(), UffdNative.kill$descriptor());
        static final MethodHandle STRERROR = LINKER.downcallHandle(UffdNative.strerror$address(), UffdNative.strerror$descriptor());
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }

    // ---- wrappers: each returns the C return value; on -1 see errno() ----------------------

    /** {@code ioctl(fd, request, arg)} with a pointer argument. */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        try {
            return (int) Handles.IOCTL_PTR.invokeExact(capture(), fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(fd, request, value)} with an int argument. */
    public static int ioctl(int fd, long request, int value) {
        try {
            return (int) Handles.IOCTL_INT.invokeExact(capture(), fd, request, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code syscall(number, arg)} with one int argument. */
    public static long syscall(long number, int arg) {
        try {
            return (long) Handles.SYSCALL_INT.invokeExact(capture(), number, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code open(path, flags, 0)}. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) Handles.OPEN.invokeExact(capture(), arena.allocateFrom(path), flags, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int close(int fd) {
        try {
            return (int) Handles.CLOSE.invokeExact(capture(), fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code dup(fd)}: a new descriptor for the same open file. */
    public static int dup(int fd) {
        try {
            return (int) Handles.DUP.invokeExact(capture(), fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long read(int fd, MemorySegment buffer, long count) {
        try {
            return (long) Handles.READ.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long write(int fd, MemorySegment buffer, long count) {
        try {
            return (long) Handles.WRITE.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int poll(MemorySegment pollfds, long count, int timeoutMillis) {
        try {
            return (int) Handles.POLL.invokeExact(capture(), pollfds, count, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int eventfd(int initial, int flags) {
        try {
            return (int) Handles.EVENTFD.invokeExact(capture(), initial, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code mmap}; returns the address, or -1 on failure (MAP_FAILED). */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        try {
            return (long) Handles.MMAP.invokeExact(capture(), address, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int munmap(long address, long length) {
        try {
            return (int) Handles.MUNMAP.invokeExact(capture(), address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code mremap(old, oldSize, newSize, flags, newAddress)}; returns the address or -1. */
    public static long mremap(long oldAddress, long oldSize, long newSize, int flags, long newAddress) {
        try {
            return (long) Handles.MREMAP.invokeExact(capture(), oldAddress, oldSize, newSize, flags, newAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * process_vm_readv(pid, local, 1, remote, 1, 0) with one iovec on each side: {@code iovecs}
     * holds the local iovec followed by the remote one. Returns bytes read, or -1 (see errno).
     */
    public static long processVmReadv(int pid, MemorySegment iovecs) {
        long size = io.github.uffd4j.internal.gen.iovec.sizeof();
        try {
            return (long) Handles.PROCESS_VM_READV.invokeExact(capture(), pid, iovecs, 1L, iovecs.asSlice(size, size), 1L, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Fills the iovec at {@code iov} with a base address and a length. */
    public static void iovec(MemorySegment iov, long base, long length) {
        io.github.uffd4j.internal.gen.iovec.iov_base(iov, MemorySegment.ofAddress(base));
        io.github.uffd4j.internal.gen.iovec.iov_len(iov, length);
    }

    public static int madvise(long address, long length, int advice) {
        try {
            return (int) Handles.MADVISE.invokeExact(capture(), address, length, advice);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) Handles.MEMFD_CREATE.invokeExact(capture(), arena.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int ftruncate(int fd, long length) {
        try {
            return (int) Handles.FTRUNCATE.invokeExact(capture(), fd, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long sysconf(int name) {
        try {
            return (long) Handles.SYSCONF.invokeExact(capture(), name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The kernel thread id of the calling thread (what UFFD_FEATURE_THREAD_ID reports). */
    public static int gettid() {
        try {
            return (int) Handles.GETTID.invokeExact(capture());
        } catch (Throwable t) {
            throw rethrow(t);
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
            return (int) Handles.CLONE.invokeExact(capture(), fn, stackTop, UffdNative.SIGCHLD(), MemorySegment.ofAddress(arg));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The address of the C library's {@code strlen}, a function a cloned child can run. */
    public static MemorySegment strlenAddress() {
        return UffdNative.strlen$address();
    }

    /** {@code waitpid(pid, status, options)}; {@code status} receives an int. */
    public static int waitpid(int pid, MemorySegment status, int options) {
        try {
            return (int) Handles.WAITPID.invokeExact(capture(), pid, status, options);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int kill(int pid, int signal) {
        try {
            return (int) Handles.KILL.invokeExact(capture(), pid, signal);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The C library's text for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Handles.STRERROR.invokeExact(errno);
            return s.equals(MemorySegment.NULL) ? "errno " + errno : s.reinterpret(1024).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    // ---- memory at raw addresses ------------------------------------------------------------

    /**
     * A segment over {@code size} bytes at {@code address}, valid while {@code arena} is open;
     * {@code cleanup} runs when the arena closes.
     */
    public static MemorySegment segment(long address, long size, Arena arena, Consumer<MemorySegment> cleanup) {
        return MemorySegment.ofAddress(address).reinterpret(size, arena, cleanup);
    }

    /** A segment over {@code size} bytes at {@code address} that is always accessible. */
    public static MemorySegment segment(long address, long size) {
        return MemorySegment.ofAddress(address).reinterpret(size);
    }
}
