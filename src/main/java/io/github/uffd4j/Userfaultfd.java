package io.github.uffd4j;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.gen.pollfd;
import io.github.uffd4j.internal.gen.uffdio_api;
import io.github.uffd4j.internal.gen.uffdio_continue;
import io.github.uffd4j.internal.gen.uffdio_copy;
import io.github.uffd4j.internal.gen.uffdio_move;
import io.github.uffd4j.internal.gen.uffdio_poison;
import io.github.uffd4j.internal.gen.uffdio_range;
import io.github.uffd4j.internal.gen.uffdio_register;
import io.github.uffd4j.internal.gen.uffdio_writeprotect;
import io.github.uffd4j.internal.gen.uffdio_zeropage;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * A userfaultfd: an open descriptor through which this process handles page faults on the memory
 * ranges it registers.
 *
 * <p>Open one with {@link #open()} or {@link #builder()}, {@link #register register} ranges of
 * off-heap memory (never the Java heap), {@link #read(EventBuffer) read} fault events and resolve
 * each with one of the range ioctls: {@link #copy}, {@link #zeropage}, {@link #continueRange},
 * {@link #writeProtect}/{@link #writeUnprotect}, {@link #poison}, {@link #move}, or {@link #wake}.
 * Each method is one ioctl; every failure is a {@link UffdException} naming the call, the errno
 * and the range, with {@link PageExistsException} for EEXIST and
 * {@link AddressSpaceChangedException} for EAGAIN.
 *
 * <p>Methods that take a mode accept {@link #DONT_WAKE}, {@link #WRITE_PROTECT} and
 * {@link #ALLOW_SRC_HOLES} or-ed together, where the ioctl supports them.
 *
 * <p>All methods are thread safe. The descriptor is always opened with O_NONBLOCK so that no
 * reader can block past {@link #close()}: blocking reads wait in poll(2) on the descriptor and on
 * an eventfd that {@code close()} signals. Closing while application threads are blocked on
 * registered pages makes the kernel resolve their faults itself (zero pages on anonymous memory):
 * unregister or serve the ranges first, close last.
 */
public final class Userfaultfd implements AutoCloseable {

    /** Mode flag: resolve the range but do not wake the waiting threads (wake them later with {@link #wake}). */
    public static final int DONT_WAKE = 1;
    /** Mode flag: map the pages write-protected (COPY, CONTINUE); needs a range registered with WP. */
    public static final int WRITE_PROTECT = 2;
    /** Mode flag for MOVE: skip unpopulated source pages instead of failing with ENOENT. */
    public static final int ALLOW_SRC_HOLES = 4;

    private static final String DEVICE = "/dev/userfaultfd";

    /**
     * Where an ioctl struct keeps its fields: the range (start and len, or dst/src/len), the mode
     * and the signed count the kernel writes back; -1 where the struct has no such field.
     */
    record Struct(long start, long src, long len, long mode, long result) {

        /** A struct that embeds {@code struct uffdio_range range}, then {@code mode} and {@code result}. */
        static Struct ranged(MemoryLayout layout, String mode, String result) {
            return new Struct(offset(layout, "range", "start"), -1, offset(layout, "range", "len"),
                    mode == null ? -1 : offset(layout, mode), result == null ? -1 : offset(layout, result));
        }

        /** A struct with {@code dst, src, len, mode} and the count field {@code result}. */
        static Struct transfer(MemoryLayout layout, String result) {
            return new Struct(offset(layout, "dst"), offset(layout, "src"), offset(layout, "len"),
                    offset(layout, "mode"), offset(layout, result));
        }

        private static long offset(MemoryLayout layout, String... path) {
            MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
            for (int i = 0; i < path.length; i++) {
                elements[i] = groupElement(path[i]);
            }
            return layout.byteOffset(elements);
        }
    }

    /** The ioctl structs, read from jextract's layouts on first use. */
    static final class Off {
        static final Struct RANGE = new Struct(uffdio_range.start$offset(), -1, uffdio_range.len$offset(), -1, -1);
        static final Struct ZEROPAGE = Struct.ranged(uffdio_zeropage.layout(), "mode", "zeropage");
        static final Struct WRITEPROTECT = Struct.ranged(uffdio_writeprotect.layout(), "mode", null);
        static final Struct CONTINUE = Struct.ranged(uffdio_continue.layout(), "mode", "mapped");
        static final Struct POISON = Struct.ranged(uffdio_poison.layout(), "mode", "updated");
        static final Struct REGISTER = Struct.ranged(uffdio_register.layout(), "mode", null);
        static final Struct COPY = Struct.transfer(uffdio_copy.layout(), "copy");
        static final Struct MOVE = Struct.transfer(uffdio_move.layout(), "move");
    }

    private final int fd;
    private final int wakeFd;
    private final Set<Feature> features;
    private final long featureBits;
    private final Set<Ioctl> ioctls;
    private final CreationPath creationPath;
    private final boolean nonBlocking;
    private final boolean ownsRegistry;
    private final CloseGate gate = new CloseGate();
    private final RangeSet registered = new RangeSet();

    /**
     * Wraps {@code fd}. Creates the close eventfd last, after everything that can throw: on
     * failure nothing is left open, and {@code fd} is left to the caller (who decides whether it
     * owns it).
     */
    private Userfaultfd(int fd, Set<Feature> features, Set<Ioctl> ioctls, CreationPath path,
                        boolean nonBlocking, boolean ownsRegistry) {
        this.fd = fd;
        this.features = Collections.unmodifiableSet(features.isEmpty() ? EnumSet.noneOf(Feature.class) : EnumSet.copyOf(features));
        this.featureBits = Feature.toMask(features);
        this.ioctls = Collections.unmodifiableSet(ioctls.isEmpty() ? EnumSet.noneOf(Ioctl.class) : EnumSet.copyOf(ioctls));
        this.creationPath = path;
        this.nonBlocking = nonBlocking;
        this.ownsRegistry = ownsRegistry;
        int wake = Native.eventfd(0, UffdNative.EFD_CLOEXEC() | UffdNative.EFD_NONBLOCK());
        if (wake < 0) {
            throw Failures.of("eventfd", Native.errno());
        }
        this.wakeFd = wake;
    }

    // ---- opening ---------------------------------------------------------------------------

    /** Opens a userfaultfd with no optional features, by whichever creation path works. */
    public static Userfaultfd open() {
        return builder().open();
    }

    /** Options for opening a userfaultfd. */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link Userfaultfd}; {@link #open()} creates the descriptor and does the handshake. */
    public static final class Builder {
        private final EnumSet<Feature> features = EnumSet.noneOf(Feature.class);
        private CreationPath path = CreationPath.AUTO;
        private boolean closeOnExec = true;
        private boolean nonBlocking;
        private boolean userModeOnly;

        private Builder() {
        }

        /** Features to enable in the handshake; the kernel must support every one. */
        public Builder features(Feature... wanted) {
            Objects.requireNonNull(wanted, "features");
            for (int i = 0; i < wanted.length; i++) {
                features.add(Objects.requireNonNull(wanted[i], "features[" + i + "] is null"));
            }
            return this;
        }

        /** Features to enable in the handshake; the kernel must support every one. */
        public Builder features(Set<Feature> wanted) {
            Objects.requireNonNull(wanted, "features");
            for (Feature f : wanted) {
                features.add(Objects.requireNonNull(f, "features contains null"));
            }
            return this;
        }

        /** How to create the descriptor (default {@link CreationPath#AUTO}). */
        public Builder creationPath(CreationPath creationPath) {
            this.path = Objects.requireNonNull(creationPath, "creationPath");
            return this;
        }

        /** O_CLOEXEC (default true): the descriptor is not inherited by exec'd programs. */
        public Builder closeOnExec(boolean on) {
            this.closeOnExec = on;
            return this;
        }

        /**
         * Whether {@link Userfaultfd#read(EventBuffer)} returns at once when no message is
         * pending (default false: it waits). The kernel descriptor is non-blocking either way.
         */
        public Builder nonBlocking(boolean on) {
            this.nonBlocking = on;
            return this;
        }

        /**
         * UFFD_USER_MODE_ONLY (default false): only faults taken in user mode are reported, which
         * unprivileged processes may ask for even when {@code vm.unprivileged_userfaultfd=0}.
         * Faults the kernel takes on the process's behalf (a read(2) into registered memory) then
         * fail with EFAULT instead of waiting for a handler.
         */
        public Builder userModeOnly(boolean on) {
            this.userModeOnly = on;
            return this;
        }

        /** Creates the descriptor and performs the UFFDIO_API handshake. */
        public Userfaultfd open() {
            Native.ensureAvailable();
            int flags = UffdNative.O_NONBLOCK()
                    | (closeOnExec ? UffdNative.O_CLOEXEC() : 0)
                    | (userModeOnly ? UffdNative.UFFD_USER_MODE_ONLY() : 0);
            Created created = create(path, flags);
            return handshake(created.fd, created.path, features, nonBlocking, true);
        }
    }

    private record Created(int fd, CreationPath path) {
    }

    private static Created create(CreationPath path, int flags) {
        int deviceErrno = 0;
        int syscallErrno = 0;
        if (path != CreationPath.SYSCALL) {
            int dev = Native.open(DEVICE, UffdNative.O_RDWR() | UffdNative.O_CLOEXEC());
            if (dev >= 0) {
                int fd = Native.ioctl(dev, UffdNative.USERFAULTFD_IOC_NEW(), flags);
                deviceErrno = fd < 0 ? Native.errno() : 0;
                Native.close(dev);
                if (fd >= 0) {
                    return new Created(fd, CreationPath.DEVICE);
                }
            } else {
                deviceErrno = Native.errno();
            }
        }
        if (path != CreationPath.DEVICE) {
            long fd = Native.syscall(UffdNative.SYS_userfaultfd(), flags);
            if (fd >= 0) {
                return new Created((int) fd, CreationPath.SYSCALL);
            }
            syscallErrno = Native.errno();
        }
        throw openFailure(path, flags, deviceErrno, syscallErrno);
    }

    private static UffdException openFailure(CreationPath path, int flags, int deviceErrno, int syscallErrno) {
        List<String> reasons = new ArrayList<>();
        if (deviceErrno != 0) {
            reasons.add(DEVICE + ": " + Errno.name(deviceErrno) + " (" + Errno.describe(deviceErrno) + "): "
                    + deviceAdvice(deviceErrno));
        }
        if (syscallErrno != 0) {
            reasons.add("userfaultfd(2): " + Errno.name(syscallErrno) + " (" + Errno.describe(syscallErrno) + "): "
                    + syscallAdvice(syscallErrno, (flags & UffdNative.UFFD_USER_MODE_ONLY()) != 0));
        }
        int errno = syscallErrno != 0 ? syscallErrno : deviceErrno;
        return Failures.withHint("open userfaultfd (" + path + ")", errno,
                "no creation path worked. " + String.join("; ", reasons));
    }

    private static String deviceAdvice(int errno) {
        if (errno == Errno.ENOENT) {
            return "the device does not exist (Linux older than 6.1, or a container started without --device /dev/userfaultfd)";
        }
        if (errno == Errno.EACCES || errno == Errno.EPERM) {
            return "this user may not open it (" + describeFile(DEVICE)
                    + "); grant access with a group or udev rule (e.g. chmod 0660 and chgrp to a group of this user)";
        }
        return "the device could not be used";
    }

    private static String syscallAdvice(int errno, boolean userModeOnly) {
        if (errno == Errno.EPERM) {
            String sysctl = readSysctl("/proc/sys/vm/unprivileged_userfaultfd");
            return "refused: vm.unprivileged_userfaultfd is " + sysctl + " and the process lacks CAP_SYS_PTRACE"
                    + (userModeOnly ? "" : "; set 'sysctl -w vm.unprivileged_userfaultfd=1', grant CAP_SYS_PTRACE, or open with userModeOnly(true)")
                    + "; inside a container, the default seccomp profile also refuses it unless CAP_SYS_PTRACE is added"
                    + " (--cap-add SYS_PTRACE, or a seccomp profile that allows userfaultfd)";
        }
        if (errno == Errno.ENOSYS) {
            return "the kernel has no userfaultfd (CONFIG_USERFAULTFD is off) or a seccomp filter hides the system call";
        }
        if (errno == Errno.EMFILE || errno == Errno.ENFILE) {
            return "too many open files (raise the descriptor limit)";
        }
        return "the system call failed";
    }

    private static String readSysctl(String file) {
        try {
            return Files.readString(Path.of(file)).strip();
        } catch (IOException | RuntimeException e) {
            return "unknown (" + file + " unreadable)";
        }
    }

    private static String describeFile(String file) {
        try {
            Path p = Path.of(file);
            return file + " is " + java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(p))
                    + " owned by " + Files.getOwner(p).getName();
        } catch (IOException | RuntimeException e) {
            return file + " permissions unknown";
        }
    }

    /**
     * UFFDIO_API asking for {@code features}: returns the thread's scratch struct holding the
     * kernel's answer, or null when the ioctl failed (see {@link Native#errno()}).
     */
    private static MemorySegment api(int fd, long features) {
        MemorySegment api = Native.scratch();
        uffdio_api.api(api, UffdNative.UFFD_API());
        uffdio_api.features(api, features);
        return Native.ioctl(fd, UffdNative.UFFDIO_API(), api) == 0 ? api : null;
    }

    /**
     * UFFDIO_API on {@code fd}, then the wrapper. With {@code ownsFd} (a descriptor uffd4j just
     * created) a failure closes it; otherwise (an adopted one) it stays the caller's.
     */
    private static Userfaultfd handshake(int fd, CreationPath path, Set<Feature> wanted, boolean nonBlocking, boolean ownsFd) {
        MemorySegment api = api(fd, Feature.toMask(wanted));
        if (api == null) {
            int e = Native.errno();
            if (ownsFd) {
                Native.close(fd);
            }
            if (e == Errno.EINVAL && !wanted.isEmpty()) {
                EnumSet<Feature> missing = EnumSet.copyOf(wanted);
                missing.removeAll(kernelFeatures());
                if (!missing.isEmpty()) {
                    throw Failures.withHint("UFFDIO_API", e, "this kernel (" + System.getProperty("os.version")
                            + ") lacks the requested features " + missing + describeSince(missing));
                }
            }
            throw Failures.of("UFFDIO_API", e);
        }
        Set<Ioctl> ioctls = Ioctl.fromMask(uffdio_api.ioctls(api));
        try {
            return new Userfaultfd(fd, wanted, ioctls, path, nonBlocking, true);
        } catch (RuntimeException e) {
            if (ownsFd) {
                Native.close(fd);
            }
            throw e;
        }
    }

    private static String describeSince(Set<Feature> missing) {
        StringBuilder s = new StringBuilder(" (");
        for (Feature f : missing) {
            if (s.length() > 2) {
                s.append(", ");
            }
            s.append(f).append(" needs Linux ").append(f.sinceKernel());
        }
        return s.append(')').toString();
    }

    /**
     * Wraps a userfaultfd descriptor this process received from elsewhere (another process over a
     * unix socket, or an inherited descriptor).
     *
     * <p>Trusts the caller: nothing checks that {@code fd} is a userfaultfd, nor that
     * {@code features} are the ones its handshake enabled; range ioctls are not checked against a
     * registry (this process may not know what the other side registered), only the kernel's
     * checks apply.
     *
     * @param fd        the descriptor; once this method returns, the returned object owns it and
     *                  closes it. When this method throws, the descriptor stays open and the
     *                  caller's.
     * @param features  the features the handshake enabled on it (needed to interpret events)
     * @param handshake true to perform UFFDIO_API now (the sender did not), false if it was done
     */
    public static Userfaultfd adopt(int fd, Set<Feature> features, boolean handshake) {
        Native.ensureAvailable();
        Objects.requireNonNull(features, "features");
        for (Feature f : features) {
            Objects.requireNonNull(f, "features contains null");
        }
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        if (handshake) {
            return handshake(fd, CreationPath.AUTO, features, false, false);
        }
        return new Userfaultfd(fd, features, EnumSet.allOf(Ioctl.class), CreationPath.AUTO, false, false);
    }

    Userfaultfd adoptForkChild(int childFd) {
        try {
            return new Userfaultfd(childFd, features, ioctls, creationPath, nonBlocking, false);
        } catch (RuntimeException e) {
            Native.close(childFd); // nobody else knows this descriptor
            throw e;
        }
    }

    // ---- what the kernel supports ---------------------------------------------------------------

    private static volatile Set<Feature> kernelFeatures;

    private static Set<Feature> probe() {
        Set<Feature> f = kernelFeatures;
        if (f == null) {
            synchronized (Userfaultfd.class) {
                f = kernelFeatures;
                if (f == null) {
                    Native.ensureAvailable();
                    int flags = UffdNative.O_NONBLOCK() | UffdNative.O_CLOEXEC();
                    Created created;
                    try {
                        created = create(CreationPath.AUTO, flags);
                    } catch (UffdException e) {
                        // unprivileged without the sysctl: user-mode-only still reports the features
                        created = create(CreationPath.AUTO, flags | UffdNative.UFFD_USER_MODE_ONLY());
                    }
                    MemorySegment api = api(created.fd, 0);
                    int e = Native.errno();
                    Native.close(created.fd);
                    if (api == null) {
                        throw Failures.of("UFFDIO_API", e);
                    }
                    f = Collections.unmodifiableSet(Feature.fromMask(uffdio_api.features(api)));
                    kernelFeatures = f;
                }
            }
        }
        return f;
    }

    /**
     * Every feature the running kernel supports, probed once per JVM with a throwaway descriptor
     * (a handshake asking for no feature reports them all).
     */
    public static Set<Feature> kernelFeatures() {
        return probe();
    }

    /** Whether the running kernel supports {@code feature}. */
    public static boolean isSupported(Feature feature) {
        return probe().contains(feature);
    }

    // ---- accessors ---------------------------------------------------------------------------

    /** The descriptor number. Do not close it yourself: {@link #close()} does. */
    public int fd() {
        return fd;
    }

    /** The features enabled on this descriptor. */
    public Set<Feature> features() {
        return features;
    }

    /** Whether {@code feature} was enabled on this descriptor. */
    public boolean hasFeature(Feature feature) {
        return (featureBits & feature.bit()) != 0;
    }

    /** The ioctls the handshake reported for this descriptor. */
    public Set<Ioctl> ioctls() {
        return ioctls;
    }

    /** How the descriptor was created ({@link CreationPath#AUTO} for adopted ones). */
    public CreationPath creationPath() {
        return creationPath;
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return gate.isClosed();
    }

    /**
     * The calling thread's kernel thread id (gettid(2)): the id that
     * {@link UffdEvent.PageFault#threadId()} and {@link EventBuffer#faultThreadId(int)} report for
     * a fault this thread takes (with {@link Feature#THREAD_ID}). Allocates nothing.
     */
    public static int currentThreadId() {
        Native.ensureAvailable();
        return Native.gettid();
    }

    // ---- registration ---------------------------------------------------------------------------

    /** Registers {@code range} for the given modes; see {@link #register(MemorySegment, Set)}. */
    public Registration register(MemorySegment range, RegisterMode mode, RegisterMode... more) {
        EnumSet<RegisterMode> modes = EnumSet.of(Objects.requireNonNull(mode, "mode"));
        for (RegisterMode m : more) {
            modes.add(Objects.requireNonNull(m, "modes contains null"));
        }
        return register(range, modes);
    }

    /**
     * Registers {@code range} (off-heap, page aligned, whole pages) so that faults of the given
     * kinds on it are reported to this descriptor. Returns the ioctls the kernel allows on it.
     */
    public Registration register(MemorySegment range, Set<RegisterMode> modes) {
        Objects.requireNonNull(modes, "modes");
        if (modes.isEmpty()) {
            throw new IllegalArgumentException("UFFDIO_REGISTER: give at least one mode (MISSING, WP, MINOR)");
        }
        ensureOpen();
        long start = rangeStart("UFFDIO_REGISTER", range);
        long len = range.byteSize();
        checkPages("UFFDIO_REGISTER", start, len);
        if (modes.contains(RegisterMode.MINOR) && !isSupported(Feature.MINOR_SHMEM) && !isSupported(Feature.MINOR_HUGETLBFS)) {
            throw new UnsupportedOperationException("UFFDIO_REGISTER: MINOR mode needs Linux 5.13+ (MINOR_HUGETLBFS) or 5.14+ (MINOR_SHMEM)");
        }
        acquire();
        try {
            MemorySegment reg = Native.scratch();
            reg.set(ValueLayout.JAVA_LONG, Off.REGISTER.start(), start);
            reg.set(ValueLayout.JAVA_LONG, Off.REGISTER.len(), len);
            reg.set(ValueLayout.JAVA_LONG, Off.REGISTER.mode(), RegisterMode.toMask(modes));
            if (Native.ioctl(fd, UffdNative.UFFDIO_REGISTER(), reg) != 0) {
                throw Failures.of("UFFDIO_REGISTER", Native.errno(), start, len, 0);
            }
            registered.add(start, start + len);
            return new Registration(start, len, modes, Ioctl.fromMask(uffdio_register.ioctls(reg)));
        } finally {
            release();
        }
    }

    /** Unregisters {@code range}: faults there are no longer reported, and waiting threads are woken. */
    public void unregister(MemorySegment range) {
        long start = rangeStart("UFFDIO_UNREGISTER", range);
        unregister(start, range.byteSize());
    }

    /** Unregisters {@code [address, address + length)}. */
    public void unregister(long address, long length) {
        ensureOpen();
        checkPages("UFFDIO_UNREGISTER", address, length);
        rangeIoctl("UFFDIO_UNREGISTER", UffdNative.UFFDIO_UNREGISTER(), Off.RANGE, address, length, 0);
        registered.remove(address, address + length);
    }

    // ---- range ioctls -----------------------------------------------------------------------------

    /**
     * UFFDIO_COPY: atomically fills the missing pages of {@code dst} with the bytes of
     * {@code src} and wakes the threads waiting on them. Returns the bytes copied (all of
     * {@code dst}). Modes: {@link #DONT_WAKE}, {@link #WRITE_PROTECT}.
     */
    public long copy(MemorySegment dst, MemorySegment src, int mode) {
        return copy(rangeStart("UFFDIO_COPY", dst), sourceAddress("UFFDIO_COPY", src, dst), dst.byteSize(), mode);
    }

    /** {@link #copy(MemorySegment, MemorySegment, int)} with no mode flags. */
    public long copy(MemorySegment dst, MemorySegment src) {
        return copy(dst, src, 0);
    }

    /** UFFDIO_COPY on raw addresses: {@code length} bytes from {@code src} to {@code dst}. */
    public long copy(long dst, long src, long length, int mode) {
        checkRange("UFFDIO_COPY", dst, length);
        checkMode("UFFDIO_COPY", mode, DONT_WAKE | WRITE_PROTECT);
        long kernelMode = ((mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_COPY_MODE_DONTWAKE() : 0)
                | ((mode & WRITE_PROTECT) != 0 ? UffdNative.UFFDIO_COPY_MODE_WP() : 0);
        return transferIoctl("UFFDIO_COPY", UffdNative.UFFDIO_COPY(), Off.COPY, dst, src, length, kernelMode);
    }

    /**
     * UFFDIO_ZEROPAGE: maps zero pages over the missing pages of {@code range} (anonymous and
     * shmem memory; not hugetlb). Returns the bytes done. Mode: {@link #DONT_WAKE}.
     */
    public long zeropage(MemorySegment range, int mode) {
        return zeropage(rangeStart("UFFDIO_ZEROPAGE", range), range.byteSize(), mode);
    }

    /** UFFDIO_ZEROPAGE on {@code [address, address + length)}. */
    public long zeropage(long address, long length, int mode) {
        checkRange("UFFDIO_ZEROPAGE", address, length);
        checkMode("UFFDIO_ZEROPAGE", mode, DONT_WAKE);
        long kernelMode = (mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_ZEROPAGE_MODE_DONTWAKE() : 0;
        return rangeIoctl("UFFDIO_ZEROPAGE", UffdNative.UFFDIO_ZEROPAGE(), Off.ZEROPAGE, address, length, kernelMode);
    }

    /** UFFDIO_WAKE: wakes the threads waiting on {@code range} (after a DONT_WAKE fill, or after EEXIST). */
    public void wake(MemorySegment range) {
        wake(rangeStart("UFFDIO_WAKE", range), range.byteSize());
    }

    /** UFFDIO_WAKE on {@code [address, address + length)}. */
    public void wake(long address, long length) {
        checkRange("UFFDIO_WAKE", address, length);
        rangeIoctl("UFFDIO_WAKE", UffdNative.UFFDIO_WAKE(), Off.RANGE, address, length, 0);
    }

    /** UFFDIO_WRITEPROTECT: write-protects {@code range} (registered with WP). */
    public void writeProtect(MemorySegment range) {
        writeProtect(rangeStart("UFFDIO_WRITEPROTECT", range), range.byteSize(), true, 0);
    }

    /**
     * UFFDIO_WRITEPROTECT without the WP bit: removes write protection from {@code range} and,
     * unless {@link #DONT_WAKE}, wakes the threads waiting to write there.
     */
    public void writeUnprotect(MemorySegment range, int mode) {
        writeProtect(rangeStart("UFFDIO_WRITEPROTECT", range), range.byteSize(), false, mode);
    }

    /** UFFDIO_WRITEPROTECT on {@code [address, address + length)}: protect or unprotect. Mode: {@link #DONT_WAKE}. */
    public void writeProtect(long address, long length, boolean protect, int mode) {
        checkRange("UFFDIO_WRITEPROTECT", address, length);
        checkMode("UFFDIO_WRITEPROTECT", mode, DONT_WAKE);
        long kernelMode = (protect ? UffdNative.UFFDIO_WRITEPROTECT_MODE_WP() : 0)
                | ((mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_WRITEPROTECT_MODE_DONTWAKE() : 0);
        rangeIoctl("UFFDIO_WRITEPROTECT", UffdNative.UFFDIO_WRITEPROTECT(), Off.WRITEPROTECT, address, length, kernelMode);
    }

    /**
     * UFFDIO_CONTINUE: maps the pages of {@code range} (registered with MINOR) from the page
     * cache, where they were written through another mapping, and wakes the waiting threads.
     * Modes: {@link #DONT_WAKE}, {@link #WRITE_PROTECT}.
     */
    public long continueRange(MemorySegment range, int mode) {
        return continueRange(rangeStart("UFFDIO_CONTINUE", range), range.byteSize(), mode);
    }

    /** UFFDIO_CONTINUE on {@code [address, address + length)}. */
    public long continueRange(long address, long length, int mode) {
        checkRange("UFFDIO_CONTINUE", address, length);
        checkMode("UFFDIO_CONTINUE", mode, DONT_WAKE | WRITE_PROTECT);
        long kernelMode = ((mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_CONTINUE_MODE_DONTWAKE() : 0)
                | ((mode & WRITE_PROTECT) != 0 ? UffdNative.UFFDIO_CONTINUE_MODE_WP() : 0);
        return rangeIoctl("UFFDIO_CONTINUE", UffdNative.UFFDIO_CONTINUE(), Off.CONTINUE, address, length, kernelMode);
    }

    /**
     * UFFDIO_POISON (Linux 6.6+): marks the missing pages of {@code range} so that touching them
     * raises SIGBUS in the touching thread, and wakes the waiting threads (which then take the
     * SIGBUS). Mode: {@link #DONT_WAKE}.
     */
    public long poison(MemorySegment range, int mode) {
        return poison(rangeStart("UFFDIO_POISON", range), range.byteSize(), mode);
    }

    /** UFFDIO_POISON on {@code [address, address + length)}. */
    public long poison(long address, long length, int mode) {
        checkRange("UFFDIO_POISON", address, length);
        checkMode("UFFDIO_POISON", mode, DONT_WAKE);
        requireFeatureSupport(Feature.POISON, "UFFDIO_POISON");
        long kernelMode = (mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_POISON_MODE_DONTWAKE() : 0;
        return rangeIoctl("UFFDIO_POISON", UffdNative.UFFDIO_POISON(), Off.POISON, address, length, kernelMode);
    }

    /**
     * UFFDIO_MOVE (Linux 6.8+, anonymous private memory): moves the pages of {@code src} into the
     * missing pages of {@code dst} without copying; {@code src} becomes unpopulated. Returns the
     * bytes moved. Modes: {@link #DONT_WAKE}, {@link #ALLOW_SRC_HOLES}.
     */
    public long move(MemorySegment dst, MemorySegment src, int mode) {
        return move(rangeStart("UFFDIO_MOVE", dst), sourceAddress("UFFDIO_MOVE", src, dst), dst.byteSize(), mode);
    }

    /** UFFDIO_MOVE on raw addresses. */
    public long move(long dst, long src, long length, int mode) {
        checkRange("UFFDIO_MOVE", dst, length);
        checkPages("UFFDIO_MOVE", src, length);
        checkMode("UFFDIO_MOVE", mode, DONT_WAKE | ALLOW_SRC_HOLES);
        if (!hasFeature(Feature.MOVE)) {
            requireFeatureSupport(Feature.MOVE, "UFFDIO_MOVE");
            throw new IllegalStateException("UFFDIO_MOVE: open the Userfaultfd with Feature.MOVE to use move()");
        }
        long kernelMode = ((mode & DONT_WAKE) != 0 ? UffdNative.UFFDIO_MOVE_MODE_DONTWAKE() : 0)
                | ((mode & ALLOW_SRC_HOLES) != 0 ? UffdNative.UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES() : 0);
        return transferIoctl("UFFDIO_MOVE", UffdNative.UFFDIO_MOVE(), Off.MOVE, dst, src, length, kernelMode);
    }

    /**
     * One ioctl on a struct that embeds a uffdio_range: fills the range and mode into the thread's
     * scratch buffer, calls it, and turns the outcome into bytes done or an exception.
     */
    private long rangeIoctl(String call, long request, Struct struct, long address, long length, long kernelMode) {
        acquire();
        try {
            MemorySegment a = Native.scratch();
            a.set(ValueLayout.JAVA_LONG, struct.start(), address);
            a.set(ValueLayout.JAVA_LONG, struct.len(), length);
            if (struct.mode() >= 0) {
                a.set(ValueLayout.JAVA_LONG, struct.mode(), kernelMode);
            }
            return outcome(call, Native.ioctl(fd, request, a), a, struct, address, length);
        } finally {
            release();
        }
    }

    /** COPY and MOVE: {@code length} bytes from {@code src} into {@code dst}. */
    private long transferIoctl(String call, long request, Struct struct, long dst, long src, long length, long kernelMode) {
        acquire();
        try {
            MemorySegment a = Native.scratch();
            a.set(ValueLayout.JAVA_LONG, struct.start(), dst);
            a.set(ValueLayout.JAVA_LONG, struct.src(), src);
            a.set(ValueLayout.JAVA_LONG, struct.len(), length);
            a.set(ValueLayout.JAVA_LONG, struct.mode(), kernelMode);
            return outcome(call, Native.ioctl(fd, request, a), a, struct, dst, length);
        } finally {
            release();
        }
    }

    /**
     * Bytes done, or the exception. Where the struct has a signed count, a negative one is a
     * negated errno and a positive one on failure is a partial operation, reported in the
     * exception's {@code bytesDone}; it is never taken as a length blindly.
     */
    private static long outcome(String call, int rc, MemorySegment arg, Struct struct, long address, long length) {
        if (struct.result() < 0) {
            // WAKE, WRITEPROTECT, UNREGISTER: all or nothing, no count to report
            if (rc == 0) {
                return length;
            }
            throw Failures.of(call, Native.errno(), address, length, 0);
        }
        long count = arg.get(ValueLayout.JAVA_LONG, struct.result());
        if (rc == 0) {
            return count;
        }
        throw Failures.of(call, Native.errno(), address, length, Math.max(count, 0));
    }

    // ---- events -------------------------------------------------------------------------------------

    /**
     * Reads pending messages into {@code buffer} (as many as fit, in one read(2)) and returns how
     * many. Waits for at least one unless the descriptor was opened non-blocking, in which case
     * it returns 0 when none is pending.
     *
     * @throws UffdClosedException if this userfaultfd is closed, also while waiting
     */
    public int read(EventBuffer buffer) {
        return read(buffer, nonBlocking ? 0L : -1L, null);
    }

    /**
     * Like {@link #read(EventBuffer)} but waits at most {@code timeout} (zero: do not wait);
     * returns 0 when no message arrived in time.
     */
    public int read(EventBuffer buffer, Duration timeout) {
        return read(buffer, timeoutNanos(timeout), null);
    }

    /** The timeout in nanoseconds, saturated at Long.MAX_VALUE (about 292 years: forever). */
    private static long timeoutNanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout " + timeout);
        }
        return timeout.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : timeout.toNanos();
    }

    /**
     * Like {@link #read(EventBuffer, Duration)} but also returns 0 as soon as {@code doorbell}
     * rings: the way a handler thread waits for faults and for its stop signal at once. A rung
     * doorbell stays rung, so every thread waiting on it returns. Allocates nothing.
     */
    public int read(EventBuffer buffer, Duration timeout, Doorbell doorbell) {
        Objects.requireNonNull(doorbell, "doorbell");
        return read(buffer, timeoutNanos(timeout), doorbell);
    }

    /**
     * Waits in poll(2) until a message is pending, at most {@code timeout}, without reading it:
     * returns true when one may be pending (read it with a zero timeout; another thread may have
     * taken it meanwhile), false when the timeout passed or {@code doorbell} rang. The way a
     * handler thread waits when it must do something between the wait and the read. Allocates nothing.
     *
     * @throws UffdClosedException if this userfaultfd is closed, also while waiting
     */
    public boolean await(Duration timeout, Doorbell doorbell) {
        Objects.requireNonNull(doorbell, "doorbell");
        long nanos = timeoutNanos(timeout);
        acquire();
        try {
            int millis = nanos < 0 ? -1 : (int) Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000);
            if (!awaitReadable(millis, doorbell)) {
                return false;
            }
            return hasPendingMessages();
        } finally {
            release();
        }
    }

    /**
     * Whether a message is waiting to be read right now (poll(2) with no wait). Reads nothing.
     */
    public boolean hasPendingMessages() {
        acquire();
        try {
            MemorySegment fds = Native.scratch();
            pollfd.fd(fds, fd);
            pollfd.events(fds, (short) UffdNative.POLLIN());
            int rc = Native.poll(fds, 1, 0);
            if (rc < 0) {
                throw Failures.of("poll", Native.errno());
            }
            return (pollfd.revents(fds) & UffdNative.POLLIN()) != 0;
        } finally {
            release();
        }
    }

    private int read(EventBuffer buffer, long timeoutNanos, Doorbell doorbell) {
        Objects.requireNonNull(buffer, "buffer");
        long deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
        acquire();
        try {
            for (;;) {
                long n = Native.read(fd, buffer.messages(), buffer.capacity() * EventBuffer.MESSAGE_BYTES);
                if (n > 0) {
                    int count = (int) (n / EventBuffer.MESSAGE_BYTES);
                    buffer.filled(count);
                    track(buffer, count);
                    return count;
                }
                int e = n < 0 ? Native.errno() : Errno.EAGAIN;
                if (e == Errno.EINTR) {
                    continue;
                }
                if (e != Errno.EAGAIN) {
                    throw Failures.of("read", e);
                }
                int waitMillis;
                if (timeoutNanos == 0) {
                    buffer.filled(0);
                    return 0;
                } else if (timeoutNanos < 0) {
                    waitMillis = -1;
                } else {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        buffer.filled(0);
                        return 0;
                    }
                    waitMillis = (int) Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000);
                }
                if (!awaitReadable(waitMillis, doorbell)) {
                    buffer.filled(0);
                    return 0;
                }
            }
        } finally {
            release();
        }
    }

    /** Reads at most one event, waiting at most {@code timeout}. */
    public Optional<UffdEvent> nextEvent(Duration timeout) {
        List<UffdEvent> events = readEvents(1, timeout);
        return events.isEmpty() ? Optional.empty() : Optional.of(events.getFirst());
    }

    /** Reads up to {@code max} events in one read, waiting at most {@code timeout} for the first. */
    public List<UffdEvent> readEvents(int max, Duration timeout) {
        try (EventBuffer buffer = EventBuffer.allocate(max)) {
            int n = read(buffer, timeout);
            List<UffdEvent> events = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                events.add(buffer.event(i));
            }
            return events;
        }
    }

    /**
     * Waits in poll(2) until the descriptor is readable, the timeout passes, or close() is called;
     * returns false when the doorbell (if any) rang.
     */
    private boolean awaitReadable(int timeoutMillis, Doorbell doorbell) {
        MemorySegment fds = Native.scratch();
        long size = pollfd.sizeof();
        MemorySegment first = fds.asSlice(0, size);
        MemorySegment second = fds.asSlice(size, size);
        MemorySegment third = fds.asSlice(2 * size, size);
        pollfd.fd(first, fd);
        pollfd.events(first, (short) UffdNative.POLLIN());
        pollfd.fd(second, wakeFd);
        pollfd.events(second, (short) UffdNative.POLLIN());
        if (doorbell != null) {
            pollfd.fd(third, doorbell.fd());
            pollfd.events(third, (short) UffdNative.POLLIN());
        }
        int rc = Native.poll(fds, doorbell != null ? 3 : 2, timeoutMillis);
        if (rc < 0) {
            int e = Native.errno();
            if (e == Errno.EINTR) {
                return true;
            }
            throw Failures.of("poll", e);
        }
        if (pollfd.revents(second) != 0 || gate.isClosed()) {
            throw new UffdClosedException("userfaultfd " + fd + " was closed while reading events");
        }
        if (doorbell != null && pollfd.revents(third) != 0) {
            return false;
        }
        short revents = pollfd.revents(first);
        if ((revents & (UffdNative.POLLERR() | UffdNative.POLLNVAL())) != 0) {
            throw Failures.withHint("poll", Errno.EBADF, "the userfaultfd reported POLLERR/POLLNVAL (revents 0x"
                    + Integer.toHexString(revents & 0xffff) + "): the handshake was not done, or the descriptor is gone");
        }
        return true;
    }

    /**
     * Wraps the child descriptor of each FORK message (the buffer only stores it) and keeps the
     * registered-range bookkeeping in step with UNMAP and REMAP events. Messages with an unknown
     * event code are left for {@link EventBuffer#kind} to report.
     */
    private void track(EventBuffer buffer, int count) {
        for (int i = 0; i < count; i++) {
            EventKind kind = buffer.kindOrNull(i);
            if (kind == null) {
                continue;
            }
            switch (kind) {
                case FORK -> buffer.attachForkChild(i, adoptForkChild(buffer.forkDescriptor(i)));
                case UNMAP -> registered.remove(buffer.rangeStart(i), buffer.rangeEnd(i));
                case REMAP -> {
                    long from = buffer.remapFrom(i);
                    long len = buffer.remapLength(i);
                    if (registered.overlaps(from, from + len)) {
                        registered.remove(from, from + len);
                        registered.add(buffer.remapTo(i), buffer.remapTo(i) + len);
                    }
                }
                default -> {
                }
            }
        }
    }

    // ---- closing ----------------------------------------------------------------------------------

    /**
     * Closes the descriptor. Threads waiting in {@link #read} return with a
     * {@link UffdClosedException}; calls that are running finish first (for at most a few
     * seconds); later calls throw {@link UffdClosedException}. Faults still pending on registered
     * ranges are then resolved by the kernel itself. Idempotent: closing again does nothing.
     */
    @Override
    public void close() {
        if (gate.close(this::signalWake, Duration.ofSeconds(5))) {
            Native.close(fd);
            Native.close(wakeFd);
        }
    }

    private void signalWake() {
        MemorySegment one = Native.scratch();
        one.set(ValueLayout.JAVA_LONG, 0, 1L);
        Native.write(wakeFd, one, 8);
    }

    private void acquire() {
        if (!gate.enter()) {
            throw closed();
        }
    }

    /** Throws {@link UffdClosedException} when closed: called first, so a closed descriptor wins over argument errors. */
    private void ensureOpen() {
        if (gate.isClosed()) {
            throw closed();
        }
    }

    private UffdClosedException closed() {
        return new UffdClosedException("userfaultfd " + fd + " is closed");
    }

    private void release() {
        gate.exit();
    }

    // ---- argument checks ------------------------------------------------------------------------

    /**
     * The address of {@code range}, which must be off-heap and alive (its arena open). The call
     * then works on the segment's own bounds. A segment whose arena another thread closes while
     * the ioctl runs is the caller's race, as with any native call on raw memory.
     */
    private static long rangeStart(String call, MemorySegment range) {
        Objects.requireNonNull(range, "range");
        checkSegment(call, "range", range);
        return range.address();
    }

    private static void checkSegment(String call, String what, MemorySegment s) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(call + ": the " + what + " must be off-heap memory (never the Java heap); got " + s);
        }
        if (!s.scope().isAlive()) {
            throw new IllegalStateException(call + ": the " + what + " segment's arena is closed (the memory may be unmapped,"
                    + " or reused by another mapping); got " + s);
        }
    }

    /** The address of {@code src}, which must be off-heap, alive and at least as long as {@code dst}. */
    private static long sourceAddress(String call, MemorySegment src, MemorySegment dst) {
        Objects.requireNonNull(src, "src");
        checkSegment(call, "source", src);
        if (src.byteSize() < dst.byteSize()) {
            throw new IllegalArgumentException(call + ": source has " + src.byteSize() + " bytes, destination " + dst.byteSize());
        }
        return src.address();
    }

    private static void checkPages(String call, long address, long length) {
        long page = Memory.pageSize();
        if (length <= 0) {
            throw new IllegalArgumentException(call + ": length must be positive, not " + length);
        }
        if ((address & (page - 1)) != 0 || (length & (page - 1)) != 0) {
            throw new IllegalArgumentException(call + ": address 0x" + Long.toHexString(address) + " and length "
                    + length + " must be multiples of the page size (" + page + ")");
        }
        if (address < 0 || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException(call + ": [0x" + Long.toHexString(address) + " + " + length
                    + ") is outside the user address space");
        }
    }

    private void checkRange(String call, long address, long length) {
        ensureOpen();
        checkPages(call, address, length);
        if (ownsRegistry && !registered.contains(address, address + length)) {
            throw new RangeNotRegisteredException(call + ": [0x" + Long.toHexString(address) + ", 0x"
                    + Long.toHexString(address + length) + ") is not inside a range registered with this userfaultfd"
                    + " (registered: " + registered + ")");
        }
    }

    private static void checkMode(String call, int mode, int allowed) {
        if ((mode & ~allowed) != 0) {
            throw new IllegalArgumentException(call + " does not take mode flags 0x" + Integer.toHexString(mode & ~allowed)
                    + " (allowed:" + ((allowed & DONT_WAKE) != 0 ? " DONT_WAKE" : "")
                    + ((allowed & WRITE_PROTECT) != 0 ? " WRITE_PROTECT" : "")
                    + ((allowed & ALLOW_SRC_HOLES) != 0 ? " ALLOW_SRC_HOLES" : "") + ")");
        }
    }

    private static void requireFeatureSupport(Feature feature, String call) {
        if (!isSupported(feature)) {
            throw new UnsupportedOperationException(call + " needs Linux " + feature.sinceKernel()
                    + "; this kernel is " + System.getProperty("os.version"));
        }
    }

    @Override
    public String toString() {
        return "Userfaultfd[fd=" + fd + ", " + creationPath + ", features=" + features + (isClosed() ? ", closed" : "") + "]";
    }
}
