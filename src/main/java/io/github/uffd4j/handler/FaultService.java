package io.github.uffd4j.handler;

import io.github.uffd4j.CreationPath;
import io.github.uffd4j.Doorbell;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PagemapScanner;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The handler-thread runtime: one userfaultfd, the regions registered with it, and the threads
 * that serve their faults. Thread safe.
 *
 * <p>How a fault is served: a {@link HandlerThread} waits in poll(2), reads a batch of messages
 * with the {@link ZapGate} closed and applies the events to the {@link RegionTable}; its
 * {@link FaultResolver} looks at the page's state in the region's {@link PageTable}, claims the
 * block to load (fault-around and {@link Readahead}), and the {@link PageLoader} has the page
 * source fill a zeroed {@link Staging} buffer while the {@link Watchdog} times it; the
 * {@link PageInstaller} maps the contents (UFFDIO_COPY, or UFFDIO_CONTINUE for MINOR regions)
 * following the kernel's rules, which wakes the faulting thread. Failures go through
 * {@link FailureOutcomes} (retry, error, zero page) to the {@link FailureReporter}. The
 * {@link BackgroundFiller} loads what nobody asked for yet, stepping aside while faults are served.
 *
 * <p>Java code must not touch missing pages directly while this JVM serves them: see
 * {@link Region} (use {@link Region#load}) or {@link LazySegment}.
 */
public final class FaultService implements AutoCloseable {

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private final Watchdog watchdog;
    private final Retirement retirement;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final boolean removeEvents;
    private final boolean remote;
    /** The service opened its descriptor itself: it belongs to this process, whose pages UFFDIO_MOVE may move. */
    private final boolean ownDescriptor;

    private FaultService(Builder b) {
        this.remote = b.adopted != null;
        Userfaultfd given = remote ? b.adopted : b.local;
        this.ownDescriptor = given == null;
        boolean poison = given != null ? given.hasFeature(Feature.POISON) : Userfaultfd.kernelFeatures().contains(Feature.POISON);
        if (b.policy.fallback() == FailurePolicy.Fallback.ERROR && !poison) {
            if (given != null) {
                given.close();
            }
            throw new IllegalStateException(given != null
                    ? "FailurePolicy.Fallback.ERROR delivers the error with UFFDIO_POISON, and the " + (remote ? "served" : "given")
                            + " userfaultfd was opened without Feature.POISON: " + (remote ? "its owner" : "whoever opens it")
                            + " must ask for it (Linux 6.6+), or choose Fallback.ZERO_PAGE"
                    : "FailurePolicy.Fallback.ERROR delivers the error with UFFDIO_POISON, which needs "
                            + "Linux 6.6+; this kernel is " + System.getProperty("os.version")
                            + ": choose Fallback.ZERO_PAGE, or run on a newer kernel");
        }
        Set<Feature> wanted = given != null ? given.features() : usableFeatures();
        this.removeEvents = wanted.contains(Feature.EVENT_REMOVE);
        ServiceContext.Settings settings = new ServiceContext.Settings(b.threads, b.readaheadThreads, b.batchSize, b.faultAround,
                Math.max(b.maxReadahead, b.faultAround), b.backgroundFill, b.policy, b.closeTimeout, b.poisonOnClose && poison);
        // its loads take faults inside the kernel: a user-mode-only descriptor cannot serve them (no use suggesting one)
        Userfaultfd uffd = given != null ? given
                : Userfaultfd.builder().features(wanted).creationPath(b.path).userModeOnly(false).open();
        Doorbell doorbell = null;
        PagemapScanner pagemap = null;
        try {
            doorbell = Doorbell.create();
            try {
                // this process's page map: of no use for another process's memory
                pagemap = remote ? null : PagemapScanner.open();
            } catch (RuntimeException noPagemap) {
                pagemap = null;
            }
            Counters counters = new Counters();
            ZapGate gate = new ZapGate();
            FailureReporter reporter = new FailureReporter(b.failureListener);
            PageInstaller installer = new PageInstaller(uffd, counters);
            FailureOutcomes failures = new FailureOutcomes(b.policy, poison, installer, reporter, counters);
            this.ctx = new ServiceContext(uffd, doorbell, new RegionTable(), counters, gate, installer, failures, reporter,
                    settings, settings.readaheadThreads() > 0 ? new ReadaheadQueue() : null);
        } catch (RuntimeException | Error e) {
            if (pagemap != null) {
                pagemap.close();
            }
            if (doorbell != null) {
                doorbell.close();
            }
            uffd.close();
            throw e;
        }
        this.roster = new ThreadRoster(ctx, pagemap);
        this.watchdog = new Watchdog(ctx, roster);
        this.retirement = new Retirement(ctx);
        for (int i = 0; i < settings.threads(); i++) {
            roster.startHandler();
        }
        for (int i = 0; i < settings.readaheadThreads(); i++) {
            roster.startReadahead();
        }
        watchdog.start();
    }

    /**
     * The features a service uses that this kernel has: what it opens its own userfaultfd with,
     * and what to open one with that another process's service will serve (a pager's app).
     *
     * @return the features, a new set
     */
    public static Set<Feature> usableFeatures() {
        Set<Feature> wanted = EnumSet.of(Feature.THREAD_ID, Feature.EVENT_REMOVE, Feature.EVENT_UNMAP, Feature.EVENT_REMAP,
                Feature.MISSING_SHMEM, Feature.MISSING_HUGETLBFS, Feature.MINOR_SHMEM, Feature.MINOR_HUGETLBFS,
                Feature.PAGEFAULT_FLAG_WP, Feature.WP_HUGETLBFS_SHMEM, Feature.POISON, Feature.MOVE);
        wanted.retainAll(Userfaultfd.kernelFeatures());
        return wanted;
    }

    /**
     * A builder with the defaults: 2 handler threads, 64 KiB fault-around, 2 MiB readahead, no background
     * fill.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A service with the default settings.
     *
     * @return the running service, owned by the caller (close it)
     */
    public static FaultService start() {
        return builder().start();
    }

    /** Settings of a {@link FaultService}. Not thread safe. */
    public static final class Builder {
        private int threads = 2;
        private int readaheadThreads;
        private int batchSize = 64;
        private long faultAround = 64 * 1024;
        private long maxReadahead = 2 * 1024 * 1024;
        private boolean backgroundFill;
        private FailurePolicy policy = FailurePolicy.DEFAULT;
        private Duration closeTimeout = Duration.ofSeconds(5);
        private boolean poisonOnClose = true;
        private Consumer<FaultFailure> failureListener;
        private Userfaultfd adopted;
        private Userfaultfd local;
        private CreationPath path = CreationPath.AUTO;

        private Builder() {
        }

        /**
         * Handler threads (1 to 64). Two or more also let a self-fault be caught at once.
         *
         * @param n the thread count
         * @return this builder
         */
        public Builder threads(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("threads must be 1..64, not " + n);
            }
            this.threads = n;
            return this;
        }

        /**
         * Readahead threads (0 to 64; default 0): when a thread reads a
         * region sequentially, the handler threads ask them for the next blocks (one more block
         * than there are readahead threads, each up to {@link #maxReadahead} long), which they load
         * in parallel while the reader consumes what it has, so that it rarely waits. A slow page
         * source (decompression, a remote store) gains most: a lazy 1 GiB zstd dataset scanned with
         * two of them beside two handler threads runs at about the speed of decompressing it all
         * first (BENCHMARKS.md). 0 loads only what faults ask for, with their fault-around and
         * readahead blocks. A readahead load that fails gives its pages back silently: the fault
         * that wants one of them loads it again and reports a failure then. {@link LazySegment} has
         * 2 by default.
         *
         * @param n the thread count
         * @return this builder
         */
        public Builder readaheadThreads(int n) {
            if (n < 0 || n > 64) {
                throw new IllegalArgumentException("readaheadThreads must be 0..64, not " + n);
            }
            this.readaheadThreads = n;
            return this;
        }

        /**
         * Messages read per read(2) (1 to 4096).
         *
         * @param n the batch size
         * @return this builder
         */
        public Builder batchSize(int n) {
            if (n < 1 || n > 4096) {
                throw new IllegalArgumentException("batchSize must be 1..4096, not " + n);
            }
            this.batchSize = n;
            return this;
        }

        /**
         * Bytes loaded around a random fault, as one aligned block (rounded to whole pages; a
         * value below the page size means one page).
         *
         * @param bytes the block size in bytes
         * @return this builder
         */
        public Builder faultAround(long bytes) {
            if (bytes < 0 || bytes > 1L << 30) {
                throw new IllegalArgumentException("faultAround must be 0..1 GiB, not " + bytes);
            }
            this.faultAround = bytes;
            return this;
        }

        /**
         * The largest block a sequential stream grows to (at least the fault-around block).
         *
         * @param bytes the largest block in bytes
         * @return this builder
         */
        public Builder maxReadahead(long bytes) {
            if (bytes < 0 || bytes > 1L << 30) {
                throw new IllegalArgumentException("maxReadahead must be 0..1 GiB, not " + bytes);
            }
            this.maxReadahead = bytes;
            return this;
        }

        /**
         * Whether a background thread loads the pages nobody asked for yet (postcopy "push").
         *
         * @param on whether to fill in the background
         * @return this builder
         */
        public Builder backgroundFill(boolean on) {
            this.backgroundFill = on;
            return this;
        }

        /**
         * What to do when a page source fails or times out.
         *
         * @param policy the policy
         * @return this builder
         */
        public Builder failurePolicy(FailurePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * How long {@link FaultService#close()} lets pending faults be served before failing them
         * (default 5 s); poisoning the pages never loaded then gets as long again, plus half a
         * second, so a busy service (its memory still being touched) still poisons everything.
         *
         * @param timeout the time pending faults get
         * @return this builder
         */
        public Builder closeTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("closeTimeout must be 0..10 minutes, not " + timeout);
            }
            this.closeTimeout = timeout;
            return this;
        }

        /**
         * Whether {@link FaultService#close()} poisons the pages never loaded before it unregisters
         * (default on where UFFDIO_POISON exists), so that a late access fails loudly instead of
         * reading zeros that were never the data.
         *
         * @param on whether to poison the pages never loaded
         * @return this builder
         */
        public Builder poisonUnloadedOnClose(boolean on) {
            this.poisonOnClose = on;
            return this;
        }

        /**
         * Called (on a service thread) for every {@link FaultFailure}. Keep it short.
         *
         * @param listener receives each failure
         * @return this builder
         */
        public Builder onFailure(Consumer<FaultFailure> listener) {
            this.failureListener = listener;
            return this;
        }

        /**
         * Serves a userfaultfd of another process instead of opening one: the descriptor another
         * process created, registered its memory with and handed over (a unix socket, or
         * pidfd_getfd), {@linkplain Userfaultfd#adopt adopted} here. The service owns it from
         * {@link #start()} on and closes it with itself (also when start fails). Its regions are
         * that process's memory: {@link FaultService#region} takes their addresses in the other
         * process ({@link io.github.uffd4j.Memory#segmentAt}), does not register them again
         * (the owner did), and never touches them from this process; {@link Region#load},
         * {@link Region#reset} and write-fault hooks are refused. Faults are served with the
         * same ioctls, which act on the owner's memory. This is the pager's side of the
         * non-cooperative model; events (REMOVE, UNMAP, REMAP) are those the owner enabled.
         *
         * @param adopted the other process's userfaultfd; the service owns it from now on
         * @return this builder
         */
        public Builder serve(Userfaultfd adopted) {
            Objects.requireNonNull(adopted, "adopted");
            if (local != null || path != CreationPath.AUTO) {
                throw new IllegalStateException("serve() takes another process's descriptor; use() or creationPath()"
                        + " was already chosen for this process's own");
            }
            this.adopted = adopted;
            return this;
        }

        /**
         * How the service creates its userfaultfd (default {@link CreationPath#AUTO}: the device,
         * then the system call). {@link CreationPath#DEVICE} works for users allowed to open
         * {@code /dev/userfaultfd} whatever {@code vm.unprivileged_userfaultfd} says.
         *
         * @param path the creation path
         * @return this builder
         */
        public Builder creationPath(CreationPath path) {
            Objects.requireNonNull(path, "path");
            if (adopted != null || local != null) {
                throw new IllegalStateException("creationPath() is for a descriptor the service opens; a descriptor was"
                        + " already given (" + (adopted != null ? "serve" : "use") + ")");
            }
            this.path = path;
            return this;
        }

        /**
         * Serves this process's memory through a userfaultfd the caller opened (say with
         * {@link CreationPath#DEVICE}, or received from a process allowed to create one), instead
         * of opening one. The service owns it from {@link #start()} on and closes it with itself
         * (also when start fails). It uses the features the descriptor was opened with:
         * {@link FaultService#usableFeatures()} are those it can make use of (without
         * {@link Feature#THREAD_ID} a fault by the service's own threads is not recognised, without
         * the EVENT_ features unmapping served memory is not noticed).
         *
         * <p>A {@linkplain Userfaultfd#isUserModeOnly() user-mode-only} descriptor is refused: the
         * service loads pages (and its safe accessors read) through the kernel, whose faults such
         * a descriptor does not report.
         *
         * @param uffd an open userfaultfd of this process, with no ranges registered
         * @return this builder
         * @throws IllegalArgumentException if it is user-mode-only or closed
         */
        public Builder use(Userfaultfd uffd) {
            Objects.requireNonNull(uffd, "uffd");
            if (uffd.isUserModeOnly()) {
                throw new IllegalArgumentException("a user-mode-only userfaultfd cannot serve a FaultService: its page loads"
                        + " and safe accessors fault inside the kernel, which such a descriptor does not report (they would"
                        + " fail with EFAULT); open it without userModeOnly(true)");
            }
            if (uffd.isClosed()) {
                throw new IllegalArgumentException("the userfaultfd is closed: " + uffd);
            }
            if (adopted != null || path != CreationPath.AUTO) {
                throw new IllegalStateException("use() gives the service its descriptor; serve() or creationPath() was"
                        + " already chosen");
            }
            this.local = uffd;
            return this;
        }

        /**
         * Opens the userfaultfd (unless one was given to {@link #serve} or {@link #use}) and starts the threads.
         *
         * @return the running service, owned by the caller (close it)
         */
        public FaultService start() {
            return new FaultService(this);
        }
    }

    // ---- registration --------------------------------------------------------------------------

    /**
     * Registers a mapping (anonymous, shmem or hugetlb) whose missing pages {@code source} fills.
     *
     * @param mapping the memory to serve
     * @param source fills its missing pages
     * @return the region, served from now on
     */
    public Region register(Mapping mapping, PageSource source) {
        return region(mapping.segment()).pageSize(mapping.pageSize()).source(source).register();
    }

    /**
     * Registers shared memory in MINOR mode: {@code source} fills a private buffer, which is
     * copied into the page cache through the alias mapping and mapped into the view with
     * UFFDIO_CONTINUE. Application code uses {@code memory.view()}.
     *
     * @param memory the shared memory to serve; its view is registered
     * @param source fills its pages
     * @return the region, served from now on
     */
    public Region register(SharedMemory memory, PageSource source) {
        return region(memory.view().segment()).pageSize(memory.pageSize()).alias(memory.alias().segment())
                .source(source).register();
    }

    /**
     * Starts describing a region over {@code memory} (off-heap, page aligned).
     *
     * @param memory the memory to serve
     * @return a builder for the region
     */
    public RegionBuilder region(MemorySegment memory) {
        return new RegionBuilder(this, memory);
    }

    synchronized Region add(RegionBuilder b) {
        if (closing.get()) {
            throw new IllegalStateException("register: the FaultService is closed");
        }
        if ((b.source == null) == (b.handler == null)) {
            throw new IllegalArgumentException("register: give exactly one of a PageSource or a FaultHandler");
        }
        MemorySegment m = b.memory;
        checkLive("register: the memory", m);
        if (m.byteSize() == 0 || m.address() % b.pageSize != 0 || m.byteSize() % b.pageSize != 0) {
            throw new IllegalArgumentException("register: memory at 0x" + Long.toHexString(m.address()) + " of " + m.byteSize()
                    + " bytes must be non-empty and aligned to the page size " + b.pageSize);
        }
        if (b.alias != null) {
            checkLive("register: the alias", b.alias);
            if (b.alias.byteSize() != m.byteSize()) {
                throw new IllegalArgumentException("register: the alias must be a mapping of the same size ("
                        + m.byteSize() + " bytes), not " + b.alias);
            }
        }
        String name = b.name != null ? b.name : "region-" + (ctx.regions().size() + 1);
        boolean background = b.background != null ? b.background : ctx.settings().backgroundFill();
        Region r = new Region(this, ctx.uffd(), ctx.gate(), name, m, b.pageSize, b.source, b.handler, b.writeHook, b.alias,
                background, removeEvents, remote, b.hugePageBlocks && ownDescriptor && ctx.uffd().hasFeature(Feature.MOVE));
        if (b.present != null) {
            r.pages().presetPresent(b.present); // before the region is published: no other thread sees the table yet
        }
        EnumSet<RegisterMode> modes = EnumSet.of(RegisterMode.MISSING);
        if (b.alias != null) {
            modes.add(RegisterMode.MINOR);
        }
        if (b.writeHook != null) {
            modes.add(RegisterMode.WP);
        }
        ctx.regions().add(r);
        if (!remote) { // the owner of a served userfaultfd registered its memory itself
            try {
                ctx.uffd().register(m, modes);
            } catch (RuntimeException e) {
                ctx.regions().remove(r);
                throw e;
            }
        }
        if (background) {
            roster.startFillerIfNeeded();
        }
        return r;
    }

    private static void checkLive(String what, MemorySegment m) {
        if (!m.isNative()) {
            throw new IllegalArgumentException(what + " must be off-heap memory, never the Java heap: " + m);
        }
        if (!m.scope().isAlive()) {
            throw new IllegalArgumentException(what + " belongs to an arena that is closed (unmapped memory): " + m);
        }
    }

    /**
     * The regions served now.
     *
     * @return the regions, a snapshot
     */
    public List<Region> regions() {
        return ctx.regions().list();
    }

    /**
     * Stops serving {@code region}: pages never loaded are poisoned (see
     * {@link Builder#poisonUnloadedOnClose}) and the range is unregistered. The region's
     * operations throw from now on.
     *
     * @param region one of this service's regions
     */
    public synchronized void unregister(Region region) {
        if (!ctx.regions().remove(region)) {
            throw new IllegalArgumentException("unregister: " + region + " is not served by this FaultService");
        }
        retirement.retire(region, System.nanoTime() + ctx.settings().closeTimeout().toNanos());
    }

    // ---- public state --------------------------------------------------------------------------

    /**
     * The counters now. Pages are counted just before the ioctl that maps them and wakes their
     * faulting threads, so a thread that finds its page loaded also finds it counted.
     *
     * @return a snapshot of the counters
     */
    public FaultStats stats() {
        return ctx.counters().snapshot();
    }

    /**
     * The userfaultfd the service reads, for inspection and for ioctls on its regions. The
     * service owns it: never close it, read from it, or register and unregister through it.
     *
     * @return the userfaultfd
     */
    public Userfaultfd uffd() {
        return ctx.uffd();
    }

    /**
     * The failure policy.
     *
     * @return the policy
     */
    public FailurePolicy failurePolicy() {
        return ctx.settings().policy();
    }

    /**
     * Whether {@link #close()} has been called (it may still be finishing).
     *
     * @return true once closing began
     */
    public boolean isClosed() {
        return closing.get();
    }

    /** The kernel rules every loader uses (for {@link Region#supply}). */
    PageInstaller installer() {
        return ctx.installer();
    }

    /** Whether page {@code p} of {@code r} is mapped right now: 1 yes, 0 no, -1 unknown (for {@link Region#supply}). */
    int kernelPresent(Region r, int p) {
        return roster.kernelPresent(r, p);
    }

    /**
     * Waits until the background filler has loaded every region it serves; false on timeout.
     *
     * @param timeout the longest wait
     * @return true when every region is loaded
     * @throws InterruptedException when the waiting thread is interrupted
     */
    public boolean awaitBackgroundFill(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            boolean done = true;
            for (Region r : ctx.regions().all()) {
                if (r.backgroundFill() && !r.isFullyLoaded()) {
                    done = false;
                    break;
                }
            }
            if (done) {
                return true;
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            Thread.sleep(1);
        }
    }

    @Override
    public String toString() {
        return "FaultService[" + ctx.uffd() + ", " + ctx.regions().size() + " regions, " + ctx.settings().threads()
                + " threads]";
    }

    // ---- closing -----------------------------------------------------------------------------

    /**
     * Stops the service: stops the background filler, lets the handler threads serve what is
     * pending for up to the close timeout, fails what is still pending (the waiting threads get
     * an error, never a silent zero page), poisons the pages never loaded (see
     * {@link Builder#poisonUnloadedOnClose}), unregisters every region, interrupts the threads
     * still running user code, stops the threads and closes the userfaultfd. Returns within the
     * close timeout plus about a second, even when a page source never returns. Idempotent.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        roster.closing();
        long deadline = System.nanoTime() + ctx.settings().closeTimeout().toNanos();
        try {
            while (System.nanoTime() < deadline && (roster.busy() || ctx.uffd().hasPendingMessages())) {
                LockSupport.parkNanos(1_000_000);
            }
        } catch (RuntimeException x) {
            System.getLogger(FaultService.class.getName()).log(System.Logger.Level.WARNING,
                    "uffd4j: while draining faults at close", x);
        }
        watchdog.abandonAll();
        // a fresh budget: draining may have used all of its time when the memory is still being touched
        long retireDeadline = System.nanoTime() + ctx.settings().closeTimeout().toNanos() + 500_000_000L;
        synchronized (this) {
            for (Region r : ctx.regions().removeAll()) {
                retirement.retire(r, retireDeadline);
            }
        }
        ctx.doorbell().ring();
        watchdog.stop();
        roster.stopAll(Duration.ofMillis(500));
        ctx.uffd().close();
        ctx.doorbell().close();
        roster.closePagemap();
    }
}
