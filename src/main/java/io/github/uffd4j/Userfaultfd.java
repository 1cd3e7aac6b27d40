package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

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
 * {@link #ALLOW_SRC_HOLES} or-ed together, where the ioctl supports them. The overloads that take
 * {@link MemorySegment}s check that each is off-heap and alive and work on its bounds; the
 * overloads that take raw addresses trust the caller: only page alignment, the user address space
 * and (for descriptors this object opened) the registered ranges are checked.
 *
 * <p>Thread safe: any number of threads may call any method at once. The descriptor is always
 * opened with O_NONBLOCK so that no reader can block past {@link #close()}: blocking reads wait in
 * poll(2) on the descriptor and on a {@link Doorbell} that {@code close()} rings. Every method
 * called on a closed userfaultfd throws {@link UffdClosedException}. Closing while application
 * threads are blocked on registered pages makes the kernel resolve their faults itself (zero
 * pages on anonymous memory): unregister or serve the ranges first, close last.
 *
 * <p>The pieces live in their own classes: creation and diagnostics in {@code UffdOpener}, the
 * ioctl structs in {@code IoctlCalls}, the read/poll loop in {@code EventReader}, the close
 * protocol in {@code CloseGate}, argument checks in {@code RangeChecks}.
 */
public final class Userfaultfd implements AutoCloseable {

    /**
     * The value the {@code api} field of UFFDIO_API must hold (UFFD_API, 0xAA), from the kernel
     * header; 0 in a JVM without native access. For {@link #probeApi}.
     */
    public static final long UFFD_API = Abi.UFFD_API;

    /** Mode flag: resolve the range but do not wake the waiting threads (wake them later with {@link #wake}). */
    public static final int DONT_WAKE = 1;
    /** Mode flag: map the pages write-protected (COPY, CONTINUE); needs a range registered with WP. */
    public static final int WRITE_PROTECT = 2;
    /** Mode flag for MOVE: skip unpopulated source pages instead of failing with ENOENT. */
    public static final int ALLOW_SRC_HOLES = 4;

    private final int fd;
    private final Doorbell closeBell;
    private final EventReader reader;
    /** Made once: reads allocate nothing. */
    private final EventReader.Tracker tracker;
    private final Set<Feature> features;
    private final long featureBits;
    private final Set<Ioctl> ioctls;
    private final CreationPath creationPath;
    private final boolean nonBlocking;
    private final boolean userModeOnly;
    private final boolean ownsRegistry;
    private final CloseGate gate = new CloseGate();
    private final RangeSet registered = new RangeSet();

    /**
     * Wraps {@code fd}. Creates the close doorbell last, after everything that can throw: on
     * failure nothing is left open, and {@code fd} is left to the caller (who decides whether it
     * owns it).
     */
    private Userfaultfd(int fd, Set<Feature> features, Set<Ioctl> ioctls, CreationPath path,
                        boolean nonBlocking, boolean userModeOnly, boolean ownsRegistry) {
        this.fd = fd;
        this.features = Collections.unmodifiableSet(features.isEmpty() ? EnumSet.noneOf(Feature.class) : EnumSet.copyOf(features));
        this.featureBits = Feature.toMask(features);
        this.ioctls = Collections.unmodifiableSet(ioctls.isEmpty() ? EnumSet.noneOf(Ioctl.class) : EnumSet.copyOf(ioctls));
        this.creationPath = path;
        this.nonBlocking = nonBlocking;
        this.userModeOnly = userModeOnly;
        this.ownsRegistry = ownsRegistry;
        this.closeBell = Doorbell.create();
        this.reader = new EventReader(fd, closeBell);
        this.tracker = this::track;
    }

    // ---- opening ---------------------------------------------------------------------------

    /**
     * Opens a userfaultfd with no optional features, by whichever creation path works.
     *
     * @return the open userfaultfd, owned by the caller (close it)
     */
    public static Userfaultfd open() {
        return builder().open();
    }

    /**
     * Options for opening a userfaultfd.
     *
     * @return a builder with the defaults: no features, {@link CreationPath#AUTO}, close-on-exec, blocking
     *         reads
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Options for {@link Userfaultfd}; {@link #open()} creates the descriptor and does the handshake. Not thread safe (a builder belongs to one thread). */
    public static final class Builder {
        private final EnumSet<Feature> features = EnumSet.noneOf(Feature.class);
        private CreationPath path = CreationPath.AUTO;
        private boolean closeOnExec = true;
        private boolean nonBlocking;
        private boolean userModeOnly;
        private boolean userModeOnlyChosen;

        private Builder() {
        }

        /**
         * Features to enable in the handshake; the kernel must support every one.
         *
         * @param wanted the features; each must be in {@link Userfaultfd#kernelFeatures()}
         * @return this builder
         */
        public Builder features(Feature... wanted) {
            Objects.requireNonNull(wanted, "features");
            for (int i = 0; i < wanted.length; i++) {
                features.add(Objects.requireNonNull(wanted[i], "features[" + i + "] is null"));
            }
            return this;
        }

        /**
         * Features to enable in the handshake; the kernel must support every one.
         *
         * @param wanted the features; each must be in {@link Userfaultfd#kernelFeatures()}
         * @return this builder
         */
        public Builder features(Set<Feature> wanted) {
            Objects.requireNonNull(wanted, "features");
            for (Feature f : wanted) {
                features.add(Objects.requireNonNull(f, "features contains null"));
            }
            return this;
        }

        /**
         * How to create the descriptor (default {@link CreationPath#AUTO}).
         *
         * @param creationPath the path to take
         * @return this builder
         */
        public Builder creationPath(CreationPath creationPath) {
            this.path = Objects.requireNonNull(creationPath, "creationPath");
            return this;
        }

        /**
         * O_CLOEXEC (default true): the descriptor is not inherited by exec'd programs.
         *
         * @param on whether to set O_CLOEXEC
         * @return this builder
         */
        public Builder closeOnExec(boolean on) {
            this.closeOnExec = on;
            return this;
        }

        /**
         * Whether {@link Userfaultfd#read(EventBuffer)} returns at once when no message is
         * pending (default false: it waits). The kernel descriptor is non-blocking either way.
         *
         * @param on true for reads that never wait
         * @return this builder
         */
        public Builder nonBlocking(boolean on) {
            this.nonBlocking = on;
            return this;
        }

        /**
         * UFFD_USER_MODE_ONLY (default false): only faults taken in user mode are reported, which
         * unprivileged processes may ask for even when {@code vm.unprivileged_userfaultfd=0}.
         * Faults the kernel takes on the process's behalf (a read(2) into registered memory) then
         * fail with EFAULT instead of waiting for a handler. A caller that cannot work with such a
         * descriptor sets false explicitly (as {@code FaultService} does: its loads take faults
         * inside the kernel); {@link #open()}'s error then does not suggest it.
         *
         * @param on whether to ask for UFFD_USER_MODE_ONLY
         * @return this builder
         */
        public Builder userModeOnly(boolean on) {
            this.userModeOnly = on;
            this.userModeOnlyChosen = true;
            return this;
        }

        /**
         * Creates the descriptor and performs the UFFDIO_API handshake.
         *
         * @return the open userfaultfd, owned by the caller (close it)
         */
        public Userfaultfd open() {
            Native.ensureAvailable();
            int flags = Abi.O_NONBLOCK | (closeOnExec ? Abi.O_CLOEXEC : 0) | (userModeOnly ? Abi.UFFD_USER_MODE_ONLY : 0);
            UffdOpener.Created created = UffdOpener.create(path, flags, !userModeOnlyChosen);
            Set<Ioctl> ioctls = UffdOpener.handshake(created.fd(), features, true);
            try {
                return new Userfaultfd(created.fd(), features, ioctls, created.path(), nonBlocking, userModeOnly, true);
            } catch (RuntimeException e) {
                Native.close(created.fd());
                throw e;
            }
        }
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
     * <p>Ownership: once this method returns, the returned object owns {@code fd} and its
     * {@link #close()} closes it. When this method throws, for any reason (a bad argument, a
     * failed handshake), {@code fd} is left open and still the caller's, who closes it or tries
     * again: uffd4j never closes a descriptor it did not take. A handshake the kernel refused
     * leaves the descriptor without one (the kernel accepts another try, Linux 6.x), except when
     * it failed because one was already done: then the descriptor keeps that earlier handshake
     * and can be adopted with {@code handshake} false.
     *
     * @param fd        the descriptor; the returned object's once this method returns, still the
     *                  caller's when it throws
     * @param features  the features the handshake enabled on it (needed to interpret events)
     * @param handshake true to perform UFFDIO_API now (the sender did not), false if it was done
     * @return the wrapped descriptor
     * @throws IllegalArgumentException when {@code fd} is negative
     * @throws UffdException            {@code call()} "UFFDIO_API" when the handshake fails: EINVAL
     *                                  when it was already done on this descriptor (by the sender,
     *                                  or on another descriptor of the same open file) or a feature
     *                                  is not supported, EPERM for a feature needing a privilege,
     *                                  ENOTTY when {@code fd} is not a userfaultfd; {@code fd} stays
     *                                  open and the caller's
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
        Set<Ioctl> ioctls = handshake ? UffdOpener.handshake(fd, features, false) : EnumSet.allOf(Ioctl.class);
        return new Userfaultfd(fd, features, ioctls, CreationPath.AUTO, false, false, false);
    }

    /** The child's descriptor of a FORK event, wrapped; closed again if wrapping fails (nobody else knows it). */
    private Userfaultfd adoptForkChild(int childFd) {
        try {
            return new Userfaultfd(childFd, features, ioctls, creationPath, nonBlocking, userModeOnly, false);
        } catch (RuntimeException e) {
            Native.close(childFd);
            throw e;
        }
    }

    // ---- version ------------------------------------------------------------------------------------

    /** The library's version, read once from the version.properties the build filled in. */
    private static final class LibraryVersion {
        static final String VALUE = load();

        private static String load() {
            try (java.io.InputStream in = Userfaultfd.class.getResourceAsStream("version.properties")) {
                if (in == null) {
                    return "(development build)";
                }
                java.util.Properties p = new java.util.Properties();
                p.load(in);
                String v = p.getProperty("version", "");
                return v.isEmpty() || v.startsWith("${") ? "(development build)" : v;
            } catch (java.io.IOException e) {
                return "(unknown: " + e + ")";
            }
        }
    }

    /**
     * uffd4j's version, as its build recorded it.
     *
     * @return e.g. {@code 0.1.0}, or {@code (development build)} when the classes carry no version
     */
    public static String libraryVersion() {
        return LibraryVersion.VALUE;
    }

    /**
     * Sends one UFFDIO_API handshake with exactly {@code api} and {@code features}, unchecked, on
     * a fresh descriptor made for it and closed before returning, and reports what the kernel
     * answered: the way to ask the running kernel about feature bits uffd4j does not know yet, or
     * to see how it treats a bad request, without a failure being thrown. ({@link #kernelFeatures()}
     * is the ordinary question, asked once per JVM.) The descriptor is made like {@link #open()}'s,
     * so creating it may fail; the handshake itself never throws.
     *
     * @param api the api field: {@link #UFFD_API} is the one the kernel accepts
     * @param features the features field: 0 asks for none (the answer then lists all the kernel
     *                 supports); bits the kernel does not know make it fail with EINVAL
     * @return the kernel's answer, errno included
     * @throws UffdException when no userfaultfd can be created here (its message says why)
     * @throws UnsupportedOperationException when native access is not enabled
     */
    public static ApiProbe probeApi(long api, long features) {
        Native.ensureAvailable();
        UffdOpener.Created created = UffdOpener.create(CreationPath.AUTO, Abi.O_CLOEXEC | Abi.O_NONBLOCK);
        try {
            return IoctlCalls.probeApi(created.fd(), api, features);
        } finally {
            Native.close(created.fd());
        }
    }

    // ---- availability ------------------------------------------------------------------------------

    /**
     * Whether {@link #open()} can work in this JVM: uffd4j has native access, this is Linux on
     * x86_64 or aarch64, the kernel has userfaultfd and this process may create one
     * ({@code /dev/userfaultfd} or the system call). Probed once per JVM with a throwaway
     * descriptor; never throws. When false, {@link #unavailabilityCause()} says why and what to
     * change.
     *
     * @return true when a userfaultfd can be opened here with the default options
     */
    public static boolean isAvailable() {
        return Availability.cause() == null;
    }

    /**
     * Whether a userfaultfd can be created here by {@code path} alone (no fallback to the other
     * path), probed once per path; never throws.
     *
     * @param path the creation path to ask about; {@link CreationPath#AUTO} is {@link #isAvailable()}
     * @return true when {@code Userfaultfd.builder().creationPath(path).open()} works here
     */
    public static boolean isAvailable(CreationPath path) {
        return Availability.cause(Objects.requireNonNull(path, "path")) == null;
    }

    /**
     * Why {@link #isAvailable()} is false: an {@link UnsupportedOperationException} when native
     * access is not enabled (its message names the {@code --enable-native-access} flag to add) or
     * this is not Linux on a supported architecture; a {@link UffdException} when the kernel has no
     * userfaultfd or refused to create one (its message names the sysctl, capability or device
     * permission that would allow it).
     *
     * @return the reason, or {@code null} when userfaultfd is available
     */
    public static Throwable unavailabilityCause() {
        return Availability.cause();
    }

    /**
     * Why {@link #isAvailable(CreationPath) isAvailable(path)} is false, like
     * {@link #unavailabilityCause()}.
     *
     * @param path the creation path to ask about
     * @return the reason, or {@code null} when that path works here
     */
    public static Throwable unavailabilityCause(CreationPath path) {
        return Availability.cause(Objects.requireNonNull(path, "path"));
    }

    /**
     * Returns quietly when {@link #isAvailable()}, else throws.
     *
     * @throws UnsupportedOperationException when userfaultfd is not available here; its cause is
     *         {@link #unavailabilityCause()} and its message says what to change
     */
    public static void ensureAvailability() {
        Throwable cause = Availability.cause();
        if (cause != null) {
            throw Availability.unavailable(cause);
        }
    }

    /**
     * Every feature the running kernel supports, probed once per JVM with a throwaway descriptor
     * (a handshake asking for no feature reports them all). Answers also where only
     * user-mode-only descriptors may be created ({@link Builder#userModeOnly}).
     *
     * @return the features, an unmodifiable set
     * @throws UnsupportedOperationException when no userfaultfd can be created here (the cause
     *         says why; {@link #isSupported(Feature)} answers false instead)
     */
    public static Set<Feature> kernelFeatures() {
        return Availability.kernelFeatures();
    }

    /**
     * Whether {@code feature} can be used here: {@link #isAvailable()} and the running kernel
     * supports it. Never throws for a question: false when native access is off, on another OS,
     * or when no userfaultfd may be created.
     *
     * @param feature the feature to ask about
     * @return true when a userfaultfd with {@code feature} can be opened here
     */
    public static boolean isSupported(Feature feature) {
        return Availability.isSupported(Objects.requireNonNull(feature, "feature"));
    }

    /**
     * The calling thread's kernel thread id (gettid(2)): the id that
     * {@link UffdEvent.PageFault#threadId()} and {@link EventBuffer#faultThreadId(int)} report for
     * a fault this thread takes (with {@link Feature#THREAD_ID}). Allocates nothing.
     *
     * @return the kernel thread id of the calling thread
     */
    public static int currentThreadId() {
        Native.ensureAvailable();
        return Native.gettid();
    }

    // ---- accessors ---------------------------------------------------------------------------

    /**
     * The descriptor number. Do not close it yourself: {@link #close()} does.
     *
     * @return the descriptor number
     */
    public int fd() {
        return fd;
    }

    /**
     * The features enabled on this descriptor.
     *
     * @return the features, an unmodifiable set
     */
    public Set<Feature> features() {
        return features;
    }

    /**
     * Whether {@code feature} was enabled on this descriptor.
     *
     * @param feature the feature to ask about
     * @return true when the handshake enabled it
     */
    public boolean hasFeature(Feature feature) {
        return (featureBits & feature.bit()) != 0;
    }

    /**
     * The ioctls the handshake reported for this descriptor.
     *
     * @return the ioctls, an unmodifiable set
     */
    public Set<Ioctl> ioctls() {
        return ioctls;
    }

    /**
     * How the descriptor was created ({@link CreationPath#AUTO} for adopted ones).
     *
     * @return the creation path
     */
    public CreationPath creationPath() {
        return creationPath;
    }

    /**
     * Whether it was opened with {@link Builder#userModeOnly UFFD_USER_MODE_ONLY}: faults the
     * kernel takes on this process's behalf are then not reported (they fail with EFAULT). An
     * {@linkplain #adopt adopted} descriptor reports false: how it was made is not known here.
     *
     * @return true for a user-mode-only descriptor opened by this process
     */
    public boolean isUserModeOnly() {
        return userModeOnly;
    }

    /**
     * Whether {@link #close()} was called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return gate.isClosed();
    }

    // ---- registration ---------------------------------------------------------------------------

    /**
     * Registers {@code range} for the given modes; see {@link #register(MemorySegment, Set)}.
     *
     * @param range the memory to register: off-heap, page aligned, whole pages
     * @param mode a mode
     * @param more further modes
     * @return the registration, with the ioctls the kernel allows on the range
     */
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
     *
     * @param range the memory to register
     * @param modes MISSING, WP and/or MINOR; at least one
     * @return the registration, with the ioctls the kernel allows on the range
     */
    public Registration register(MemorySegment range, Set<RegisterMode> modes) {
        Objects.requireNonNull(modes, "modes");
        if (modes.isEmpty()) {
            throw new IllegalArgumentException("UFFDIO_REGISTER: give at least one mode (MISSING, WP, MINOR)");
        }
        ensureOpen();
        long start = RangeChecks.start("UFFDIO_REGISTER", range);
        long len = range.byteSize();
        RangeChecks.pages("UFFDIO_REGISTER", start, len);
        if (modes.contains(RegisterMode.MINOR) && !Availability.kernelHas(Feature.MINOR_SHMEM)
                && !Availability.kernelHas(Feature.MINOR_HUGETLBFS)) {
            throw new UnsupportedOperationException("UFFDIO_REGISTER: MINOR mode needs Linux 5.13+ (MINOR_HUGETLBFS) or 5.14+ (MINOR_SHMEM)");
        }
        acquire();
        try {
            long allowed = IoctlCalls.register(fd, start, len, RegisterMode.toMask(modes));
            registered.add(start, start + len);
            return new Registration(start, len, modes, Ioctl.fromMask(allowed));
        } finally {
            release();
        }
    }

    /**
     * Unregisters {@code range}: faults there are no longer reported, and waiting threads are woken.
     *
     * @param range the registered memory (off-heap, page aligned)
     */
    public void unregister(MemorySegment range) {
        long start = RangeChecks.start("UFFDIO_UNREGISTER", range);
        unregister(start, range.byteSize());
    }

    /**
     * Unregisters {@code [address, address + length)}.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void unregister(long address, long length) {
        ensureOpen();
        RangeChecks.pages("UFFDIO_UNREGISTER", address, length);
        range(Ioctl.UNREGISTER, IoctlCalls.RANGE, address, length, 0);
        registered.remove(address, address + length);
    }

    // ---- range ioctls -----------------------------------------------------------------------------

    /**
     * UFFDIO_COPY: atomically fills the missing pages of {@code dst} with the bytes of
     * {@code src} and wakes the threads waiting on them. Returns the bytes copied (all of
     * {@code dst}). Modes: {@link #DONT_WAKE}, {@link #WRITE_PROTECT}.
     *
     * @param dst the registered pages to fill
     * @param src the bytes to copy, at least as long as {@code dst}
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #WRITE_PROTECT}
     * @return the bytes copied
     */
    public long copy(MemorySegment dst, MemorySegment src, int mode) {
        return copy(RangeChecks.start("UFFDIO_COPY", dst), RangeChecks.source("UFFDIO_COPY", src, dst), dst.byteSize(), mode);
    }

    /**
     * {@link #copy(MemorySegment, MemorySegment, int)} with no mode flags.
     *
     * @param dst the registered pages to fill
     * @param src the bytes to copy
     * @return the bytes copied
     */
    public long copy(MemorySegment dst, MemorySegment src) {
        return copy(dst, src, 0);
    }

    /**
     * UFFDIO_COPY on raw addresses: {@code length} bytes from {@code src} to {@code dst}.
     *
     * @param dst the first byte to fill, page aligned, inside a registered range
     * @param src the address to copy from
     * @param length the bytes to copy, whole pages
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #WRITE_PROTECT}
     * @return the bytes copied
     */
    public long copy(long dst, long src, long length, int mode) {
        checkRange("UFFDIO_COPY", dst, length);
        RangeChecks.mode("UFFDIO_COPY", mode, DONT_WAKE | WRITE_PROTECT);
        long kernelMode = ((mode & DONT_WAKE) != 0 ? Abi.UFFDIO_COPY_MODE_DONTWAKE : 0)
                | ((mode & WRITE_PROTECT) != 0 ? Abi.UFFDIO_COPY_MODE_WP : 0);
        return transfer(Ioctl.COPY, IoctlCalls.COPY, dst, src, length, kernelMode);
    }

    /**
     * UFFDIO_ZEROPAGE: maps zero pages over the missing pages of {@code range} (anonymous and
     * shmem memory; not hugetlb). Returns the bytes done. Mode: {@link #DONT_WAKE}.
     *
     * @param range the registered pages
     * @param mode 0 or {@link #DONT_WAKE}
     * @return the bytes mapped
     */
    public long zeropage(MemorySegment range, int mode) {
        return zeropage(RangeChecks.start("UFFDIO_ZEROPAGE", range), range.byteSize(), mode);
    }

    /**
     * UFFDIO_ZEROPAGE on {@code [address, address + length)}.
     *
     * @param address the first byte, page aligned, inside a registered range
     * @param length the length in bytes, whole pages
     * @param mode 0 or {@link #DONT_WAKE}
     * @return the bytes mapped
     */
    public long zeropage(long address, long length, int mode) {
        checkRange("UFFDIO_ZEROPAGE", address, length);
        RangeChecks.mode("UFFDIO_ZEROPAGE", mode, DONT_WAKE);
        long kernelMode = (mode & DONT_WAKE) != 0 ? Abi.UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0;
        return range(Ioctl.ZEROPAGE, IoctlCalls.ZEROPAGE, address, length, kernelMode);
    }

    /**
     * UFFDIO_WAKE: wakes the threads waiting on {@code range} (after a DONT_WAKE fill, or after EEXIST).
     *
     * @param range the pages whose waiting threads to wake
     */
    public void wake(MemorySegment range) {
        wake(RangeChecks.start("UFFDIO_WAKE", range), range.byteSize());
    }

    /**
     * UFFDIO_WAKE on {@code [address, address + length)}.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void wake(long address, long length) {
        checkRange("UFFDIO_WAKE", address, length);
        range(Ioctl.WAKE, IoctlCalls.RANGE, address, length, 0);
    }

    /**
     * UFFDIO_WRITEPROTECT: write-protects {@code range} (registered with WP).
     *
     * @param range the pages to protect
     */
    public void writeProtect(MemorySegment range) {
        writeProtect(RangeChecks.start("UFFDIO_WRITEPROTECT", range), range.byteSize(), true, 0);
    }

    /**
     * UFFDIO_WRITEPROTECT without the WP bit: removes write protection from {@code range} and,
     * unless {@link #DONT_WAKE}, wakes the threads waiting to write there.
     *
     * @param range the pages to unprotect
     * @param mode 0 or {@link #DONT_WAKE}
     */
    public void writeUnprotect(MemorySegment range, int mode) {
        writeProtect(RangeChecks.start("UFFDIO_WRITEPROTECT", range), range.byteSize(), false, mode);
    }

    /**
     * UFFDIO_WRITEPROTECT on {@code [address, address + length)}: protect or unprotect. Mode:
     * {@link #DONT_WAKE}.
     *
     * @param address the first byte, page aligned, inside a registered range
     * @param length the length in bytes, whole pages
     * @param protect true to write-protect, false to remove the protection
     * @param mode 0 or {@link #DONT_WAKE}
     */
    public void writeProtect(long address, long length, boolean protect, int mode) {
        checkRange("UFFDIO_WRITEPROTECT", address, length);
        RangeChecks.mode("UFFDIO_WRITEPROTECT", mode, DONT_WAKE);
        long kernelMode = (protect ? Abi.UFFDIO_WRITEPROTECT_MODE_WP : 0)
                | ((mode & DONT_WAKE) != 0 ? Abi.UFFDIO_WRITEPROTECT_MODE_DONTWAKE : 0);
        range(Ioctl.WRITEPROTECT, IoctlCalls.WRITEPROTECT, address, length, kernelMode);
    }

    /**
     * UFFDIO_CONTINUE: maps the pages of {@code range} (registered with MINOR) from the page
     * cache, where they were written through another mapping, and wakes the waiting threads.
     * Modes: {@link #DONT_WAKE}, {@link #WRITE_PROTECT}.
     *
     * @param range the registered pages
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #WRITE_PROTECT}
     * @return the bytes mapped
     */
    public long continueRange(MemorySegment range, int mode) {
        return continueRange(RangeChecks.start("UFFDIO_CONTINUE", range), range.byteSize(), mode);
    }

    /**
     * UFFDIO_CONTINUE on {@code [address, address + length)}.
     *
     * @param address the first byte, page aligned, inside a range registered with MINOR
     * @param length the length in bytes, whole pages
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #WRITE_PROTECT}
     * @return the bytes mapped
     */
    public long continueRange(long address, long length, int mode) {
        checkRange("UFFDIO_CONTINUE", address, length);
        RangeChecks.mode("UFFDIO_CONTINUE", mode, DONT_WAKE | WRITE_PROTECT);
        long kernelMode = ((mode & DONT_WAKE) != 0 ? Abi.UFFDIO_CONTINUE_MODE_DONTWAKE : 0)
                | ((mode & WRITE_PROTECT) != 0 ? Abi.UFFDIO_CONTINUE_MODE_WP : 0);
        return range(Ioctl.CONTINUE, IoctlCalls.CONTINUE, address, length, kernelMode);
    }

    /**
     * UFFDIO_POISON (Linux 6.6+): marks the missing pages of {@code range} so that touching them
     * raises SIGBUS in the touching thread, and wakes the waiting threads (which then take the
     * SIGBUS). Mode: {@link #DONT_WAKE}.
     *
     * @param range the registered pages
     * @param mode 0 or {@link #DONT_WAKE}
     * @return the bytes poisoned
     */
    public long poison(MemorySegment range, int mode) {
        return poison(RangeChecks.start("UFFDIO_POISON", range), range.byteSize(), mode);
    }

    /**
     * UFFDIO_POISON on {@code [address, address + length)}.
     *
     * @param address the first byte, page aligned, inside a registered range
     * @param length the length in bytes, whole pages
     * @param mode 0 or {@link #DONT_WAKE}
     * @return the bytes poisoned
     */
    public long poison(long address, long length, int mode) {
        checkRange("UFFDIO_POISON", address, length);
        RangeChecks.mode("UFFDIO_POISON", mode, DONT_WAKE);
        RangeChecks.featureSupport(Feature.POISON, "UFFDIO_POISON");
        long kernelMode = (mode & DONT_WAKE) != 0 ? Abi.UFFDIO_POISON_MODE_DONTWAKE : 0;
        return range(Ioctl.POISON, IoctlCalls.POISON, address, length, kernelMode);
    }

    /**
     * UFFDIO_MOVE (Linux 6.8+, anonymous private memory): moves the pages of {@code src} into the
     * missing pages of {@code dst} without copying; {@code src} becomes unpopulated. Returns the
     * bytes moved. Modes: {@link #DONT_WAKE}, {@link #ALLOW_SRC_HOLES}.
     *
     * @param dst the registered pages to fill
     * @param src the pages to move, as long as {@code dst}
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #ALLOW_SRC_HOLES}
     * @return the bytes moved
     */
    public long move(MemorySegment dst, MemorySegment src, int mode) {
        return move(RangeChecks.start("UFFDIO_MOVE", dst), RangeChecks.source("UFFDIO_MOVE", src, dst), dst.byteSize(), mode);
    }

    /**
     * UFFDIO_MOVE on raw addresses.
     *
     * @param dst the first byte to fill, page aligned, inside a registered range
     * @param src the first byte to move from, page aligned
     * @param length the bytes to move, whole pages
     * @param mode 0, or {@link #DONT_WAKE} and/or {@link #ALLOW_SRC_HOLES}
     * @return the bytes moved
     */
    public long move(long dst, long src, long length, int mode) {
        checkRange("UFFDIO_MOVE", dst, length);
        RangeChecks.pages("UFFDIO_MOVE", src, length);
        RangeChecks.mode("UFFDIO_MOVE", mode, DONT_WAKE | ALLOW_SRC_HOLES);
        if (!hasFeature(Feature.MOVE)) {
            RangeChecks.featureSupport(Feature.MOVE, "UFFDIO_MOVE");
            throw new IllegalStateException("UFFDIO_MOVE: open the Userfaultfd with Feature.MOVE to use move()");
        }
        long kernelMode = ((mode & DONT_WAKE) != 0 ? Abi.UFFDIO_MOVE_MODE_DONTWAKE : 0)
                | ((mode & ALLOW_SRC_HOLES) != 0 ? Abi.UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES : 0);
        return transfer(Ioctl.MOVE, IoctlCalls.MOVE, dst, src, length, kernelMode);
    }

    private long range(Ioctl ioctl, IoctlCalls.Struct struct, long address, long length, long kernelMode) {
        acquire();
        try {
            return IoctlCalls.range(fd, ioctl, struct, address, length, kernelMode);
        } finally {
            release();
        }
    }

    private long transfer(Ioctl ioctl, IoctlCalls.Struct struct, long dst, long src, long length, long kernelMode) {
        acquire();
        try {
            return IoctlCalls.transfer(fd, ioctl, struct, dst, src, length, kernelMode);
        } finally {
            release();
        }
    }

    // ---- events -------------------------------------------------------------------------------------

    /**
     * Reads pending messages into {@code buffer} (as many as fit, in one read(2)) and returns how
     * many. Waits for at least one unless the descriptor was opened non-blocking, in which case
     * it returns 0 when none is pending. FORK messages come with their child's descriptor already
     * wrapped ({@link EventBuffer#forkChild}).
     *
     * @param buffer where the messages go
     * @return the number of messages read (0 only when non-blocking)
     * @throws UffdClosedException if this userfaultfd is closed, also while waiting
     */
    public int read(EventBuffer buffer) {
        return read(buffer, nonBlocking ? 0L : -1L, null);
    }

    /**
     * Like {@link #read(EventBuffer)} but waits at most {@code timeout} (zero: do not wait; a
     * timeout too long for a long of nanoseconds waits "forever", about 292 years); returns 0 when
     * no message arrived in time.
     *
     * @param buffer where the messages go
     * @param timeout the longest wait
     * @return the number of messages read, 0 when the time passed
     */
    public int read(EventBuffer buffer, Duration timeout) {
        return read(buffer, RangeChecks.timeoutNanos(timeout), null);
    }

    /**
     * Like {@link #read(EventBuffer, Duration)} but also returns 0 as soon as {@code doorbell}
     * rings: the way a handler thread waits for faults and for its stop signal at once. A rung
     * doorbell stays rung, so every thread waiting on it returns. Allocates nothing.
     *
     * @param buffer where the messages go
     * @param timeout the longest wait
     * @param doorbell returns at once when it rings
     * @return the number of messages read, 0 when the time passed or the doorbell rang
     */
    public int read(EventBuffer buffer, Duration timeout, Doorbell doorbell) {
        Objects.requireNonNull(doorbell, "doorbell");
        return read(buffer, RangeChecks.timeoutNanos(timeout), doorbell);
    }

    private int read(EventBuffer buffer, long timeoutNanos, Doorbell doorbell) {
        Objects.requireNonNull(buffer, "buffer");
        acquire();
        try {
            return reader.read(buffer, timeoutNanos, doorbell, tracker);
        } finally {
            release();
        }
    }

    /**
     * Waits in poll(2) until a message is pending, at most {@code timeout}, without reading it:
     * returns true when one may be pending (read it with a zero timeout; another thread may have
     * taken it meanwhile), false when the timeout passed or {@code doorbell} rang. The way a
     * handler thread waits when it must do something between the wait and the read. Allocates nothing.
     *
     * @param timeout the longest wait
     * @param doorbell returns false at once when it rings
     * @return true when a message may be pending
     * @throws UffdClosedException if this userfaultfd is closed, also while waiting
     */
    public boolean await(Duration timeout, Doorbell doorbell) {
        Objects.requireNonNull(doorbell, "doorbell");
        long nanos = RangeChecks.timeoutNanos(timeout);
        acquire();
        try {
            return reader.await(nanos, doorbell);
        } finally {
            release();
        }
    }

    /**
     * Whether a message is waiting to be read right now (poll(2) with no wait). Reads nothing.
     *
     * @return true when a message is pending
     */
    public boolean hasPendingMessages() {
        acquire();
        try {
            return reader.hasPending();
        } finally {
            release();
        }
    }

    /**
     * Reads at most one event, waiting at most {@code timeout}.
     *
     * @param timeout the longest wait
     * @return the event, or empty when none arrived in time
     */
    public Optional<UffdEvent> nextEvent(Duration timeout) {
        List<UffdEvent> events = readEvents(1, timeout);
        return events.isEmpty() ? Optional.empty() : Optional.of(events.getFirst());
    }

    /**
     * Reads up to {@code max} events in one read, waiting at most {@code timeout} for the first.
     *
     * @param max the most events to read
     * @param timeout the longest wait for the first
     * @return the events, empty when none arrived in time
     */
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
     * ranges are then resolved by the kernel itself. Idempotent: closing again does nothing (and
     * returns at once, even while the first close still waits for running calls).
     */
    @Override
    public void close() {
        gate.closeDescriptor(fd, closeBell);
    }

    private void acquire() {
        if (!gate.enter()) {
            throw closed();
        }
    }

    private void release() {
        gate.exit();
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

    private void checkRange(String call, long address, long length) {
        ensureOpen();
        RangeChecks.pages(call, address, length);
        if (ownsRegistry && !registered.contains(address, address + length)) {
            throw new RangeNotRegisteredException(call + ": [0x" + Long.toHexString(address) + ", 0x"
                    + Long.toHexString(address + length) + ") is not inside a range registered with this userfaultfd"
                    + " (registered: " + registered + ")");
        }
    }

    @Override
    public String toString() {
        return "Userfaultfd[fd=" + fd + ", " + creationPath + ", features=" + features + (isClosed() ? ", closed" : "") + "]";
    }
}
