package io.github.uffd4j.internal.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Every native call uffd4j makes, and the only class that uses restricted FFM methods.
 *
 * <p>Each C function gets its own downcall handle with {@code Linker.Option.captureCallState("errno")}
 * (jextract does not capture errno), linked the first time the function is called: a holder class
 * per function, so opening a userfaultfd links only the five functions it calls (linking all of
 * them up front cost about 200 ms of a JVM's first {@code Userfaultfd.open()}). The descriptors are
 * the C signatures with every pointer a machine word: a long where the caller has a raw address
 * (no MemorySegment per call), an ADDRESS where it passes a segment. {@link Signatures} lists them;
 * a test checks each against the descriptor jextract generated from the C headers.
 *
 * <p>Each wrapper returns what the C function returns; after a failure {@link #errno()} gives the
 * errno of the calling thread's last call. Nothing here allocates on the Java heap after a
 * thread's first call: the errno capture buffer and a small scratch buffer for ioctl structs are
 * kept per thread ({@link ThreadState}). Thread safe.
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
            return nativeAccessAdvice(module);
        }
        return null;
    }

    /**
     * What to change when {@code module} (uffd4j's) lacks native access. On the module path only
     * the flag naming the module works: a jar manifest's {@code Enable-Native-Access} takes only
     * ALL-UNNAMED, which does not cover named modules. On the class path, the flag or that
     * manifest entry of the executable jar started with {@code java -jar}.
     */
    static String nativeAccessAdvice(Module module) {
        if (module.isNamed()) {
            return "uffd4j calls native code and needs native access: start java with --enable-native-access="
                    + module.getName() + " (uffd4j is the named module " + module.getName()
                    + " here; in a jlink image, pass the flag with jlink --add-options)";
        }
        return "uffd4j calls native code and needs native access: start java with --enable-native-access=ALL-UNNAMED"
                + " (uffd4j is on the class path here), or, for an executable jar started with java -jar,"
                + " put 'Enable-Native-Access: ALL-UNNAMED' in its manifest";
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

    /**
     * A thread's native buffers: the errno capture and a {@link #SCRATCH_BYTES}-byte scratch for
     * ioctl structs. Fetch it once per operation ({@link #thread()}: one ThreadLocal lookup), fill
     * the struct, call {@link #ioctl(int, long)}. Used only by the thread that fetched it.
     */
    public static final class ThreadState {
        final MemorySegment capture;
        final MemorySegment scratch;

        ThreadState() {
            Arena arena = Arena.ofAuto();
            capture = arena.allocate(CAPTURE_LAYOUT);
            scratch = arena.allocate(SCRATCH_BYTES, 16);
        }

        /** The scratch buffer with its first {@code bytes} (rounded up to 8) zeroed; the rest is left as it was. */
        public MemorySegment struct(long bytes) {
            MemorySegment s = scratch;
            for (long o = 0; o < bytes; o += 8) {
                s.set(JAVA_LONG, o, 0L);
            }
            return s;
        }

        /** The scratch buffer as it is. */
        public MemorySegment scratch() {
            return scratch;
        }

        /** {@code ioctl(fd, request, scratch)}. */
        public int ioctl(int fd, long request) {
            try {
                return (int) Ioctl.PTR.invokeExact(capture, fd, request, scratch);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /**
         * {@code ioctl(fd, request, scratch)} as a critical downcall (see
         * {@link java.lang.foreign.Linker.Option#critical}): about 12 ns cheaper, but a safepoint
         * waits for it, so only for requests that never sleep nor touch user memory other than
         * the scratch buffer (UFFDIO_WAKE).
         */
        public int shortIoctl(int fd, long request) {
            try {
                return (int) ShortIoctl.PTR.invokeExact(capture, fd, request, scratch);
            } catch (Throwable t) {
                throw rethrow(t);
            }
        }

        /** The errno of this thread's last failed call. */
        public int errno() {
            return (int) ERRNO.get(capture, 0L);
        }
    }

    private static final ThreadLocal<ThreadState> BUFFERS = ThreadLocal.withInitial(ThreadState::new);

    /** The calling thread's native buffers. */
    public static ThreadState thread() {
        return BUFFERS.get();
    }

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

    // ---- signatures and linking -----------------------------------------------------------------

    /**
     * The C signatures (LP64: long and size_t are 64 bits). Package-private so that a test can
     * compare each with the descriptor jextract generated.
     */
    static final class Signatures {
        static final FunctionDescriptor IOCTL_PTR = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS);
        static final FunctionDescriptor IOCTL_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT);
        static final FunctionDescriptor SYSCALL_INT = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT);
        static final FunctionDescriptor SYSCALL_INT3 = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT);
        /** syscall(SYS_process_madvise, int pidfd, const struct iovec *, size_t vlen, int advice, unsigned flags). */
        static final FunctionDescriptor SYSCALL_PROCESS_MADVISE = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG,
                JAVA_LONG, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor OPEN = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor CLOSE = FunctionDescriptor.of(JAVA_INT, JAVA_INT);
        static final FunctionDescriptor READ = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final FunctionDescriptor WRITE = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG);
        static final FunctionDescriptor POLL = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT);
        static final FunctionDescriptor EVENTFD = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor MMAP = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG);
        static final FunctionDescriptor MUNMAP = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG);
        static final FunctionDescriptor MREMAP = FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG);
        static final FunctionDescriptor MADVISE = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT);
        static final FunctionDescriptor MINCORE = FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS);
        static final FunctionDescriptor MEMFD_CREATE = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        static final FunctionDescriptor FTRUNCATE = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG);
        static final FunctionDescriptor SYSCONF = FunctionDescriptor.of(JAVA_LONG, JAVA_INT);
        static final FunctionDescriptor GETTID = FunctionDescriptor.of(JAVA_INT);
        static final FunctionDescriptor SETPRIORITY = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor GETPRIORITY = FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT);
        static final FunctionDescriptor STRERROR = FunctionDescriptor.of(ADDRESS, JAVA_INT);
        static final FunctionDescriptor PROCESS_VM_READV = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG,
                JAVA_LONG, JAVA_LONG, JAVA_LONG);
        static final FunctionDescriptor PREAD = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);
    }

    /**
     * A downcall handle for the C library function {@code name} with errno capture;
     * {@code firstVariadic} is the index of the first variadic argument, or -1.
     */
    static MethodHandle link(String name, FunctionDescriptor descriptor, int firstVariadic) {
        return link(name, descriptor, firstVariadic, false);
    }

    /**
     * {@link #link} as a critical function: for calls that return at once without sleeping, and
     * read no memory the JVM could be serving faults for. Falls back to an ordinary handle where
     * the JDK refuses the combination with errno capture.
     */
    static MethodHandle linkCritical(String name, FunctionDescriptor descriptor, int firstVariadic) {
        try {
            return link(name, descriptor, firstVariadic, true);
        } catch (IllegalArgumentException refused) {
            return link(name, descriptor, firstVariadic, false);
        }
    }

    private static MethodHandle link(String name, FunctionDescriptor descriptor, int firstVariadic, boolean critical) {
        Linker linker = Linker.nativeLinker();
        MemorySegment address = linker.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("the C library has no " + name));
        List<Linker.Option> options = new ArrayList<>(3);
        options.add(Linker.Option.captureCallState("errno"));
        if (firstVariadic >= 0) {
            options.add(Linker.Option.firstVariadicArg(firstVariadic));
        }
        if (critical) {
            options.add(Linker.Option.critical(false));
        }
        return linker.downcallHandle(address, descriptor, options.toArray(Linker.Option[]::new));
    }

    // One holder per function: each is linked on its first call.
    private static final class Ioctl {
        static final MethodHandle PTR = link("ioctl", Signatures.IOCTL_PTR, 2);
    }

    private static final class ShortIoctl {
        static final MethodHandle PTR = linkCritical("ioctl", Signatures.IOCTL_PTR, 2);
    }

    private static final class IoctlInt {
        static final MethodHandle H = link("ioctl", Signatures.IOCTL_INT, 2);
    }

    private static final class SyscallInt {
        static final MethodHandle H = link("syscall", Signatures.SYSCALL_INT, 1);
    }

    private static final class SyscallInt3 {
        static final MethodHandle H = link("syscall", Signatures.SYSCALL_INT3, 1);
    }

    private static final class Open {
        static final MethodHandle H = link("open", Signatures.OPEN, 2);
    }

    private static final class Close {
        static final MethodHandle H = link("close", Signatures.CLOSE, -1);
    }

    private static final class Read {
        static final MethodHandle H = link("read", Signatures.READ, -1);
    }

    private static final class Write {
        static final MethodHandle H = link("write", Signatures.WRITE, -1);
    }

    private static final class Poll {
        static final MethodHandle H = link("poll", Signatures.POLL, -1);
    }

    private static final class Eventfd {
        static final MethodHandle H = link("eventfd", Signatures.EVENTFD, -1);
    }

    private static final class Mmap {
        static final MethodHandle H = link("mmap", Signatures.MMAP, -1);
    }

    private static final class Munmap {
        static final MethodHandle H = link("munmap", Signatures.MUNMAP, -1);
    }

    private static final class Mremap {
        static final MethodHandle H = link("mremap", Signatures.MREMAP, 4);
    }

    private static final class Mincore {
        static final MethodHandle H = link("mincore", Signatures.MINCORE, -1);
    }

    private static final class Madvise {
        static final MethodHandle H = link("madvise", Signatures.MADVISE, -1);
    }

    private static final class MemfdCreate {
        static final MethodHandle H = link("memfd_create", Signatures.MEMFD_CREATE, -1);
    }

    private static final class Ftruncate {
        static final MethodHandle H = link("ftruncate", Signatures.FTRUNCATE, -1);
    }

    private static final class Sysconf {
        static final MethodHandle H = link("sysconf", Signatures.SYSCONF, -1);
    }

    private static final class Gettid {
        static final MethodHandle H = link("gettid", Signatures.GETTID, -1);
    }

    private static final class Setpriority {
        static final MethodHandle H = link("setpriority", Signatures.SETPRIORITY, -1);
    }

    private static final class Getpriority {
        static final MethodHandle H = link("getpriority", Signatures.GETPRIORITY, -1);
    }

    private static final class ProcessVmReadv {
        static final MethodHandle H = link("process_vm_readv", Signatures.PROCESS_VM_READV, -1);
    }

    private static final class SyscallProcessMadvise {
        static final MethodHandle H = link("syscall", Signatures.SYSCALL_PROCESS_MADVISE, 1);
    }

    private static final class ProcessVmWritev {
        static final MethodHandle H = link("process_vm_writev", Signatures.PROCESS_VM_READV, -1);
    }

    private static final class Pread {
        static final MethodHandle H = link("pread", Signatures.PREAD, -1);
    }

    private static final class Pwrite {
        static final MethodHandle H = link("pwrite", Signatures.PREAD, -1);
    }

    private static final class Strerror {
        static final MethodHandle H = Linker.nativeLinker().downcallHandle(
                Linker.nativeLinker().defaultLookup().find("strerror").orElseThrow(), Signatures.STRERROR);
    }

    static RuntimeException rethrow(Throwable t) {
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
            return (int) Ioctl.PTR.invokeExact(capture(), fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ioctl(fd, request, value)} with an int argument. */
    public static int ioctl(int fd, long request, int value) {
        try {
            return (int) IoctlInt.H.invokeExact(capture(), fd, request, value);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code syscall(number, arg)} with one int argument. */
    public static long syscall(long number, int arg) {
        try {
            return (long) SyscallInt.H.invokeExact(capture(), number, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code syscall(number, a, b, c)} with three int arguments. */
    public static long syscall(long number, int a, int b, int c) {
        try {
            return (long) SyscallInt3.H.invokeExact(capture(), number, a, b, c);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code open(path, flags, 0)}. */
    public static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) Open.H.invokeExact(capture(), arena.allocateFrom(path), flags, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int close(int fd) {
        try {
            return (int) Close.H.invokeExact(capture(), fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long read(int fd, MemorySegment buffer, long count) {
        try {
            return (long) Read.H.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long write(int fd, MemorySegment buffer, long count) {
        try {
            return (long) Write.H.invokeExact(capture(), fd, buffer, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int poll(MemorySegment pollfds, long count, int timeoutMillis) {
        try {
            return (int) Poll.H.invokeExact(capture(), pollfds, count, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int eventfd(int initial, int flags) {
        try {
            return (int) Eventfd.H.invokeExact(capture(), initial, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code mmap}; returns the address, or -1 on failure (MAP_FAILED). */
    public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        try {
            return (long) Mmap.H.invokeExact(capture(), address, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int munmap(long address, long length) {
        try {
            return (int) Munmap.H.invokeExact(capture(), address, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code mremap(old, oldSize, newSize, flags, newAddress)}; returns the address or -1. */
    public static long mremap(long oldAddress, long oldSize, long newSize, int flags, long newAddress) {
        try {
            return (long) Mremap.H.invokeExact(capture(), oldAddress, oldSize, newSize, flags, newAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** pread(fd, buf, count, offset) into native memory at {@code buf}: bytes read, or -1 (see errno). */
    public static long pread(int fd, long buf, long count, long offset) {
        try {
            return (long) Pread.H.invokeExact(capture(), fd, buf, count, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** pwrite(fd, buf, count, offset) from native memory at {@code buf}: bytes written, or -1 (see errno). */
    public static long pwrite(int fd, long buf, long count, long offset) {
        try {
            return (long) Pwrite.H.invokeExact(capture(), fd, buf, count, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * process_vm_readv(pid, localIov, 1, remoteIov, 1, 0) with one iovec on each side, both given
     * by address (struct iovec, see {@link #iovec}). Returns bytes read, or -1 (see errno).
     */
    public static long processVmReadv(int pid, long localIov, long remoteIov) {
        try {
            return (long) ProcessVmReadv.H.invokeExact(capture(), pid, localIov, 1L, remoteIov, 1L, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * process_vm_writev(pid, localIov, 1, remoteIov, 1, 0): the write twin of
     * {@link #processVmReadv} (same signature). Returns bytes written, or -1 (see errno).
     */
    public static long processVmWritev(int pid, long localIov, long remoteIov) {
        try {
            return (long) ProcessVmWritev.H.invokeExact(capture(), pid, localIov, 1L, remoteIov, 1L, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Fills the struct iovec at {@code offset} of {@code buffer} with a base address and a length. */
    public static void iovec(MemorySegment buffer, long offset, long base, long length) {
        buffer.set(JAVA_LONG, offset + Abi.IOVEC_BASE, base);
        buffer.set(JAVA_LONG, offset + Abi.IOVEC_LEN, length);
    }

    /** {@code mincore(address, length, vec)}: one byte per page, bit 0 set when the page is resident. */
    public static int mincore(long address, long length, MemorySegment vec) {
        try {
            return (int) Mincore.H.invokeExact(capture(), address, length, vec);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code process_madvise(pidfd, iovecs, count, advice, 0)} through syscall(2) (glibc 2.36+
     * has a wrapper; older ones do not): the bytes advised, or -1 with errno set.
     */
    public static long processMadvise(int pidfd, long iovecs, long count, int advice) {
        try {
            return (long) SyscallProcessMadvise.H.invokeExact(capture(), (long) Abi.SYS_process_madvise, pidfd, iovecs, count,
                    advice, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int madvise(long address, long length, int advice) {
        try {
            return (int) Madvise.H.invokeExact(capture(), address, length, advice);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return (int) MemfdCreate.H.invokeExact(capture(), arena.allocateFrom(name), flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static int ftruncate(int fd, long length) {
        try {
            return (int) Ftruncate.H.invokeExact(capture(), fd, length);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static long sysconf(int name) {
        try {
            return (long) Sysconf.H.invokeExact(capture(), name);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The kernel thread id of the calling thread (what UFFD_FEATURE_THREAD_ID reports). */
    public static int gettid() {
        try {
            return (int) Gettid.H.invokeExact(capture());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** setpriority(which, who, prio): 0, or -1 with errno set. */
    public static int setpriority(int which, int who, int prio) {
        try {
            return (int) Setpriority.H.invokeExact(capture(), which, who, prio);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** getpriority(which, who): the nice value (-1 is also a valid one: clear errno first and look). */
    public static int getpriority(int which, int who) {
        try {
            return (int) Getpriority.H.invokeExact(capture(), which, who);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The C library's text for an errno value. */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
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
