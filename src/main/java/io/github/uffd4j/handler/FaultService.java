package io.github.uffd4j.handler;

import io.github.uffd4j.AddressSpaceChangedException;
import io.github.uffd4j.Doorbell;
import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.EventKind;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PageExistsException;
import io.github.uffd4j.PagemapScanner;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.UffdEvent;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The handler-thread runtime: one userfaultfd, the regions registered with it, and the threads
 * that serve their faults.
 *
 * <ul>
 *   <li><b>Handler threads</b> (platform, daemon; {@link Builder#threads}) wait in poll(2) on the
 *   userfaultfd and a stop eventfd, read up to {@link Builder#batchSize} messages per read(2),
 *   apply REMOVE/UNMAP/REMAP events first, then resolve each fault.</li>
 *   <li><b>Page state</b>: each region keeps one state per page (missing, loading, present,
 *   failed, gone), the single record of what is present. A page is claimed before it is loaded,
 *   so the fault path and the background filler never load it twice.</li>
 *   <li><b>Fault-around and readahead</b>: a fault loads the aligned block around it
 *   ({@link Builder#faultAround}) in one source call and one ioctl; a fault where a sequential
 *   stream left off doubles the block, up to {@link Builder#maxReadahead}; a random fault goes
 *   back to the fault-around block.</li>
 *   <li><b>Background filler</b> ({@link Builder#backgroundFill}): one thread that loads the pages
 *   nobody asked for yet, region by region, stepping aside while faults are being served.</li>
 *   <li><b>MINOR regions</b> (shared memory): contents are written through the alias mapping,
 *   then UFFDIO_CONTINUE maps them.</li>
 *   <li><b>Write-protect hook</b>: a region registered with a {@link WriteFaultHook} gets it called
 *   on each write-protect fault before the protection is lifted.</li>
 * </ul>
 *
 * <p>The rules other userfaultfd users learned the hard way are built in: EEXIST from a fill is
 * answered with UFFDIO_WAKE; EAGAIN makes the thread read and apply the pending events, then
 * retry the rest; REMOVE resets the page state so the next fault loads again; UNMAP drops the
 * range; a fault raised by one of the service's own threads (the kernel reports the thread id)
 * is failed loudly instead of deadlocking. A page source that throws or overruns its timeout is
 * handled by the {@link FailurePolicy}: retries, then an error in the faulting thread or a zero
 * page. {@link #close()} serves or fails every pending fault, stops the threads within a bounded
 * time and unregisters before it closes the descriptor.
 *
 * <p>Java code must not touch missing pages directly while this JVM serves them: see
 * {@link Region} (use {@link Region#load} or {@link LazySegment}).
 */
public final class FaultService implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());
    private static final Duration IDLE_WAIT = Duration.ofSeconds(1);
    private static final long EAGAIN_GIVE_UP_NANOS = Duration.ofSeconds(10).toNanos();

    /** Counters, shared by all threads of the service. */
    static final class Counters {
        final LongAdder faults = new LongAdder();
        final LongAdder pages = new LongAdder();
        final LongAdder backgroundPages = new LongAdder();
        final LongAdder bytes = new LongAdder();
        final LongAdder sourceCalls = new LongAdder();
        final LongAdder alreadyPresent = new LongAdder();
        final LongAdder eexist = new LongAdder();
        final LongAdder eagain = new LongAdder();
        final LongAdder events = new LongAdder();
        final LongAdder failures = new LongAdder();
        final LongAdder timeouts = new LongAdder();
        final LongAdder selfFaults = new LongAdder();
        final LongAdder writeFaults = new LongAdder();
        final LatencyHistogram latency = new LatencyHistogram();
    }

    final Counters counters = new Counters();
    private final Userfaultfd uffd;
    private final Doorbell doorbell;
    private final int threads;
    private final int batchSize;
    private final long faultAround;
    private final long maxReadahead;
    private final boolean backgroundFill;
    private final FailurePolicy policy;
    private final Duration closeTimeout;
    private final boolean poisonOnClose;
    private final Consumer<FaultFailure> failureListener;
    private final boolean poisonSupported;
    private final long timeoutNanos;

    private volatile Region[] regions = new Region[0];
    private volatile int[] ownThreadIds = new int[0];
    private final List<Slot> slots = new CopyOnWriteArrayList<>();
    private volatile Slot[] slotArray = new Slot[0];
    private final List<Thread> allThreads = new CopyOnWriteArrayList<>();
    private final AtomicInteger threadNumber = new AtomicInteger();
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;
    private volatile boolean stopFiller;
    private volatile Thread filler;
    private final Thread watchdog;
    private volatile MemorySegment zeros;
    private volatile PagemapScanner pagemap;
    private final Object zerosLock = new Object();

    private FaultService(Builder b) {
        this.threads = b.threads;
        this.batchSize = b.batchSize;
        this.faultAround = b.faultAround;
        this.maxReadahead = Math.max(b.maxReadahead, b.faultAround);
        this.backgroundFill = b.backgroundFill;
        this.policy = b.policy;
        this.closeTimeout = b.closeTimeout;
        this.failureListener = b.failureListener;
        this.timeoutNanos = policy.timeout().toNanos();
        this.poisonSupported = Userfaultfd.isSupported(Feature.POISON);
        this.poisonOnClose = b.poisonOnClose && poisonSupported;
        if (policy.fallback() == FailurePolicy.Fallback.ERROR && !poisonSupported) {
            throw new IllegalStateException("FailurePolicy.Fallback.ERROR delivers the error with UFFDIO_POISON, which needs "
                    + "Linux 6.6+; this kernel is " + System.getProperty("os.version")
                    + ": choose Fallback.ZERO_PAGE, or run on a newer kernel");
        }
        Set<Feature> wanted = EnumSet.of(Feature.THREAD_ID, Feature.EVENT_REMOVE, Feature.EVENT_UNMAP, Feature.EVENT_REMAP,
                Feature.MISSING_SHMEM, Feature.MISSING_HUGETLBFS, Feature.MINOR_SHMEM, Feature.MINOR_HUGETLBFS,
                Feature.PAGEFAULT_FLAG_WP, Feature.WP_HUGETLBFS_SHMEM, Feature.POISON);
        wanted.retainAll(Userfaultfd.kernelFeatures());
        this.uffd = Userfaultfd.builder().features(wanted).open();
        this.doorbell = Doorbell.create();
        try {
            this.pagemap = PagemapScanner.open();
        } catch (RuntimeException noPagemap) {
            this.pagemap = null;
        }
        for (int i = 0; i < threads; i++) {
            startWorker();
        }
        this.watchdog = Thread.ofPlatform().daemon().name("uffd4j-watchdog-" + uffd.fd()).unstarted(this::watch);
        allThreads.add(watchdog);
        watchdog.start();
    }

    /** A builder with the defaults: 2 handler threads, 64 KiB fault-around, 2 MiB readahead, no background fill. */
    public static Builder builder() {
        return new Builder();
    }

    /** A service with the default settings. */
    public static FaultService start() {
        return builder().start();
    }

    /** Settings of a {@link FaultService}. */
    public static final class Builder {
        private int threads = 2;
        private int batchSize = 64;
        private long faultAround = 64 * 1024;
        private long maxReadahead = 2 * 1024 * 1024;
        private boolean backgroundFill;
        private FailurePolicy policy = FailurePolicy.DEFAULT;
        private Duration closeTimeout = Duration.ofSeconds(5);
        private boolean poisonOnClose = true;
        private Consumer<FaultFailure> failureListener;

        private Builder() {
        }

        /** Handler threads (1 to 64). Two or more also let a self-fault be caught at once. */
        public Builder threads(int n) {
            if (n < 1 || n > 64) {
                throw new IllegalArgumentException("threads must be 1..64, not " + n);
            }
            this.threads = n;
            return this;
        }

        /** Messages read per read(2) (1 to 4096). */
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
         */
        public Builder faultAround(long bytes) {
            if (bytes < 0 || bytes > 1L << 30) {
                throw new IllegalArgumentException("faultAround must be 0..1 GiB, not " + bytes);
            }
            this.faultAround = bytes;
            return this;
        }

        /** The largest block a sequential stream grows to (at least the fault-around block). */
        public Builder maxReadahead(long bytes) {
            if (bytes < 0 || bytes > 1L << 30) {
                throw new IllegalArgumentException("maxReadahead must be 0..1 GiB, not " + bytes);
            }
            this.maxReadahead = bytes;
            return this;
        }

        /** Whether a background thread loads the pages nobody asked for yet (postcopy "push"). */
        public Builder backgroundFill(boolean on) {
            this.backgroundFill = on;
            return this;
        }

        /** What to do when a page source fails or times out. */
        public Builder failurePolicy(FailurePolicy policy) {
            this.policy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** How long {@link FaultService#close()} lets pending faults be served before failing them. */
        public Builder closeTimeout(Duration timeout) {
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
         */
        public Builder poisonUnloadedOnClose(boolean on) {
            this.poisonOnClose = on;
            return this;
        }

        /** Called (on a handler thread) for every {@link FaultFailure}. Keep it short. */
        public Builder onFailure(Consumer<FaultFailure> listener) {
            this.failureListener = listener;
            return this;
        }

        /** Opens the userfaultfd and starts the threads. */
        public FaultService start() {
            return new FaultService(this);
        }
    }

    // ---- registration --------------------------------------------------------------------------

    /** Registers a mapping (anonymous, shmem or hugetlb) whose missing pages {@code source} fills. */
    public Region register(Mapping mapping, PageSource source) {
        return region(mapping.segment()).pageSize(mapping.pageSize()).source(source).register();
    }

    /**
     * Registers shared memory in MINOR mode: contents are written by {@code source} straight
     * into the page cache through the alias mapping, then mapped into the view with
     * UFFDIO_CONTINUE. Application code uses {@code memory.view()}.
     */
    public Region register(SharedMemory memory, PageSource source) {
        return region(memory.view().segment()).pageSize(memory.pageSize()).alias(memory.alias().segment())
                .source(source).register();
    }

    /** Starts describing a region over {@code memory} (off-heap, page aligned). */
    public RegionBuilder region(MemorySegment memory) {
        return new RegionBuilder(memory);
    }

    /** How a region is served. */
    public final class RegionBuilder {
        private final MemorySegment memory;
        private long pageSize = Memory.pageSize();
        private PageSource source;
        private FaultHandler handler;
        private WriteFaultHook writeHook;
        private MemorySegment alias;
        private String name;
        private Boolean background;

        private RegionBuilder(MemorySegment memory) {
            this.memory = Objects.requireNonNull(memory, "memory");
        }

        /** The page size of the memory (the huge page size for hugetlb; default the base page size). */
        public RegionBuilder pageSize(long bytes) {
            if (bytes < Memory.pageSize() || Long.bitCount(bytes) != 1) {
                throw new IllegalArgumentException("pageSize must be a power of two of at least " + Memory.pageSize() + ", not " + bytes);
            }
            this.pageSize = bytes;
            return this;
        }

        /** Fills missing pages. */
        public RegionBuilder source(PageSource source) {
            this.source = source;
            return this;
        }

        /** Decides per fault instead of a page source. */
        public RegionBuilder handler(FaultHandler handler) {
            this.handler = handler;
            return this;
        }

        /** Also registers write-protect mode, with {@code hook} run on each write-protect fault. */
        public RegionBuilder writeProtect(WriteFaultHook hook) {
            this.writeHook = Objects.requireNonNull(hook, "hook");
            return this;
        }

        /** MINOR mode: the unregistered second mapping of the same shared memory, written through before CONTINUE. */
        public RegionBuilder alias(MemorySegment alias) {
            this.alias = alias;
            return this;
        }

        /** A name for logs, failures and JFR. */
        public RegionBuilder name(String name) {
            this.name = name;
            return this;
        }

        /** Whether the background filler serves this region (default: the service's setting). */
        public RegionBuilder backgroundFill(boolean on) {
            this.background = on;
            return this;
        }

        /** Registers the region with the userfaultfd; faults on it are served from now on. */
        public Region register() {
            return FaultService.this.add(this);
        }
    }

    private synchronized Region add(RegionBuilder b) {
        if (closing.get()) {
            throw new IllegalStateException("register: the FaultService is closed");
        }
        if ((b.source == null) == (b.handler == null)) {
            throw new IllegalArgumentException("register: give exactly one of a PageSource or a FaultHandler");
        }
        MemorySegment m = b.memory;
        if (!m.isNative()) {
            throw new IllegalArgumentException("register: only off-heap memory can be served, never the Java heap: " + m);
        }
        if (m.byteSize() == 0 || m.address() % b.pageSize != 0 || m.byteSize() % b.pageSize != 0) {
            throw new IllegalArgumentException("register: memory at 0x" + Long.toHexString(m.address()) + " of " + m.byteSize()
                    + " bytes must be non-empty and aligned to the page size " + b.pageSize);
        }
        if (b.alias != null && (!b.alias.isNative() || b.alias.byteSize() != m.byteSize())) {
            throw new IllegalArgumentException("register: the alias must be an off-heap mapping of the same size ("
                    + m.byteSize() + " bytes), not " + b.alias);
        }
        for (Region r : regions) {
            if (m.address() < r.address + r.length && r.address < m.address() + m.byteSize()) {
                throw new IllegalArgumentException("register: " + m + " overlaps " + r);
            }
        }
        String name = b.name != null ? b.name : "region-" + (regions.length + 1);
        Region r = new Region(this, name, m, b.pageSize, b.source, b.handler, b.writeHook, b.alias,
                b.background != null ? b.background : backgroundFill);
        EnumSet<RegisterMode> modes = EnumSet.of(RegisterMode.MISSING);
        if (b.alias != null) {
            modes.add(RegisterMode.MINOR);
        }
        if (b.writeHook != null) {
            modes.add(RegisterMode.WP);
        }
        uffd.register(m, modes);
        Region[] next = java.util.Arrays.copyOf(regions, regions.length + 1);
        next[next.length - 1] = r;
        regions = next;
        if (r.background) {
            startFillerIfNeeded();
        }
        return r;
    }

    /** The regions served now. */
    public List<Region> regions() {
        return List.of(regions);
    }

    /**
     * Stops serving {@code region}: pages never loaded are poisoned (see
     * {@link Builder#poisonUnloadedOnClose}) and the range is unregistered.
     */
    public synchronized void unregister(Region region) {
        Region[] rs = regions;
        int i = java.util.Arrays.asList(rs).indexOf(region);
        if (i < 0) {
            throw new IllegalArgumentException("unregister: " + region + " is not served by this FaultService");
        }
        retire(region);
        Region[] next = new Region[rs.length - 1];
        System.arraycopy(rs, 0, next, 0, i);
        System.arraycopy(rs, i + 1, next, i, rs.length - i - 1);
        regions = next;
    }

    // ---- public state --------------------------------------------------------------------------

    /** The counters now. */
    public FaultStats stats() {
        Counters c = counters;
        return new FaultStats(c.faults.sum(), c.pages.sum(), c.backgroundPages.sum(), c.bytes.sum(), c.sourceCalls.sum(),
                c.alreadyPresent.sum(), c.eexist.sum(), c.eagain.sum(), c.events.sum(), c.failures.sum(), c.timeouts.sum(),
                c.selfFaults.sum(), c.writeFaults.sum(), c.latency.snapshot());
    }

    /** The userfaultfd the service reads (for inspection; the service owns it). */
    public Userfaultfd uffd() {
        return uffd;
    }

    /** The failure policy. */
    public FailurePolicy failurePolicy() {
        return policy;
    }

    /** Whether {@link #close()} has been called (it may still be finishing). */
    public boolean isClosed() {
        return closed || closing.get();
    }

    /** Waits until the background filler has loaded every region it serves; false on timeout. */
    public boolean awaitBackgroundFill(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            boolean done = true;
            for (Region r : regions) {
                if (r.background && !r.isFullyLoaded()) {
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
        return "FaultService[" + uffd + ", " + regions.length + " regions, " + threads + " threads]";
    }

    // ---- threads -----------------------------------------------------------------------------

    /** What a thread is doing, for the watchdog. */
    static final class Slot {
        static final int IDLE = 0;
        static final int BUSY = 1;
        static final int ABANDONED = 2;

        final AtomicInteger phase = new AtomicInteger();
        final boolean filler;
        Worker worker;
        /** A handler thread is serving a batch of faults (the filler steps aside meanwhile). */
        volatile boolean inBatch;
        volatile long since;
        Region region;
        int faultPage;
        int runStart;
        int runEnd;

        Slot(boolean filler) {
            this.filler = filler;
        }

        void begin(Region r, int faultPage, int start, int end) {
            this.region = r;
            this.faultPage = faultPage;
            this.runStart = start;
            this.runEnd = end;
            this.since = System.nanoTime();
            phase.set(BUSY);
        }

        /** False if the watchdog abandoned the attempt meanwhile (its result must be dropped). */
        boolean end() {
            return phase.compareAndSet(BUSY, IDLE);
        }
    }

    private void startWorker() {
        Slot slot = new Slot(false);
        addSlot(slot);
        Thread t = Thread.ofPlatform().daemon().name("uffd4j-handler-" + uffd.fd() + "-" + threadNumber.incrementAndGet())
                .unstarted(new Worker(slot));
        allThreads.add(t);
        t.start();
    }

    private synchronized void startFillerIfNeeded() {
        Thread f = filler;
        if ((f == null || !f.isAlive()) && !closing.get()) {
            Slot slot = new Slot(true);
            addSlot(slot);
            f = Thread.ofPlatform().daemon().name("uffd4j-filler-" + uffd.fd()).unstarted(new Filler(slot));
            f.setPriority(Thread.MIN_PRIORITY);
            allThreads.add(f);
            filler = f;
            f.start();
        }
    }

    private synchronized void addSlot(Slot s) {
        slots.add(s);
        slotArray = slots.toArray(new Slot[0]);
    }

    private synchronized void removeSlot(Slot s) {
        slots.remove(s);
        slotArray = slots.toArray(new Slot[0]);
    }

    private synchronized void addOwnThread(int tid) {
        int[] t = java.util.Arrays.copyOf(ownThreadIds, ownThreadIds.length + 1);
        t[t.length - 1] = tid;
        ownThreadIds = t;
    }

    private synchronized void removeOwnThread(int tid) {
        int[] t = ownThreadIds;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == tid) {
                int[] n = new int[t.length - 1];
                System.arraycopy(t, 0, n, 0, i);
                System.arraycopy(t, i + 1, n, i, t.length - i - 1);
                ownThreadIds = n;
                return;
            }
        }
    }

    private boolean isOwnThread(int tid) {
        if (tid == 0) {
            return false;
        }
        for (int t : ownThreadIds) {
            if (t == tid) {
                return true;
            }
        }
        return false;
    }

    Region regionFor(long address) {
        for (Region r : regions) {
            if (r.contains(address)) {
                return r;
            }
        }
        return null;
    }

    private long stagingBytes() {
        long largestPage = Memory.pageSize();
        for (Region r : regions) {
            largestPage = Math.max(largestPage, r.pageSize);
        }
        return Math.max(maxReadahead, largestPage);
    }

    /**
     * The code both kinds of thread share: load a run of claimed pages from the source, install
     * them, and handle every way that can go wrong.
     */
    private abstract class Loader implements Runnable {
        final Slot slot;
        Arena arena;
        MemorySegment staging;
        /** Slices of the staging buffer by page count, made once: the fault path allocates nothing. */
        MemorySegment[] slices = new MemorySegment[0];
        long slicePageSize;
        int tid;
        boolean abandoned;
        /** Pages and bytes this thread loaded for faults (for its JFR batch events). */
        long ownPages;
        long ownBytes;

        Loader(Slot slot) {
            this.slot = slot;
        }

        void open() {
            tid = Native.gettid();
            addOwnThread(tid);
            arena = Arena.ofConfined();
            staging = arena.allocate(stagingBytes(), Memory.pageSize());
        }

        void shut() {
            removeOwnThread(tid);
            removeSlot(slot);
            arena.close();
        }

        /** Makes sure the staging buffer holds {@code bytes} (regions with bigger pages may be added later). */
        MemorySegment staging(long bytes) {
            if (staging.byteSize() < bytes) {
                arena.close();
                arena = Arena.ofConfined();
                staging = arena.allocate(bytes, Memory.pageSize());
                slices = new MemorySegment[0];
            }
            return staging;
        }

        /** The first {@code pages} pages of the staging buffer, for pages of {@code pageSize} bytes. */
        MemorySegment stagingSlice(int pages, long pageSize) {
            MemorySegment buf = staging((long) pages * pageSize);
            if (pageSize != slicePageSize) {
                slices = new MemorySegment[0];
                slicePageSize = pageSize;
            }
            if (pages >= slices.length) {
                slices = java.util.Arrays.copyOf(slices, Math.max(pages + 1, slices.length * 2));
            }
            MemorySegment s = slices[pages];
            if (s == null) {
                s = buf.asSlice(0, (long) pages * pageSize);
                slices[pages] = s;
            }
            return s;
        }

        /**
         * Loads pages [s, e) of {@code r}, already claimed. {@code faultPage} is the page a thread
         * waits for (or -1 for background work). Returns false if the attempt was abandoned.
         */
        boolean load(Region r, int s, int e, int faultPage) {
            boolean urgent = faultPage >= 0;
            for (;;) {
                long bytes = (long) (e - s) << r.pageShift;
                long offset = (long) s << r.pageShift;
                MemorySegment dst = r.alias != null ? r.alias.asSlice(offset, bytes) : stagingSlice(e - s, r.pageSize);
                Throwable error = null;
                slot.begin(r, faultPage, s, e);
                try {
                    counters.sourceCalls.increment();
                    r.source.fill(offset, dst);
                } catch (Throwable t) {
                    error = t;
                }
                if (!slot.end()) {
                    abandoned = true;
                    return false;
                }
                if (error == null) {
                    install(r, s, e, r.alias != null ? 0 : dst.address(), urgent);
                    return true;
                }
                if (!urgent) {
                    releaseRun(r, s, e);
                    report(r, s, e - s, FaultFailure.Kind.SOURCE_FAILED, FaultFailure.Outcome.NONE, error);
                    return true;
                }
                // Retry with just the page a thread waits for; give the rest back.
                if (s < faultPage) {
                    releaseRun(r, s, faultPage);
                }
                if (faultPage + 1 < e) {
                    releaseRun(r, faultPage + 1, e);
                }
                s = faultPage;
                e = faultPage + 1;
                if (!attemptFailed(r, faultPage, FaultFailure.Kind.SOURCE_FAILED, error)) {
                    return true;
                }
            }
        }

        /**
         * UFFDIO_COPY (or CONTINUE for MINOR regions) of pages [s, e), with EEXIST answered by a
         * wake and EAGAIN by applying the pending events and retrying the rest.
         */
        void install(Region r, int s, int e, long src, boolean urgent) {
            long deadline = 0;
            int next = s;
            while (next < e) {
                long dst = r.pageAddress(next);
                long len = (long) (e - next) << r.pageShift;
                long from = src == 0 ? 0 : src + ((long) (next - s) << r.pageShift);
                try {
                    if (r.alias != null) {
                        uffd.continueRange(dst, len, 0);
                    } else {
                        uffd.copy(dst, from, len, 0);
                    }
                    markLoaded(r, next, e, urgent);
                    return;
                } catch (PageExistsException x) {
                    // Someone mapped a page of the run: take the part done, step over that page, wake it.
                    counters.eexist.increment();
                    int done = next + (int) (x.bytesDone() >>> r.pageShift);
                    markLoaded(r, next, done, urgent);
                    if (done < e) {
                        r.loaded(done);
                        uffd.wake(r.pageAddress(done), r.pageSize);
                        next = done + 1;
                    } else {
                        next = e;
                    }
                } catch (AddressSpaceChangedException x) {
                    counters.eagain.increment();
                    int done = next + (int) (x.bytesDone() >>> r.pageShift);
                    markLoaded(r, next, done, urgent);
                    next = done;
                    if (deadline == 0) {
                        deadline = System.nanoTime() + EAGAIN_GIVE_UP_NANOS;
                    } else if (System.nanoTime() > deadline) {
                        giveUp(r, next, e, urgent, x);
                        return;
                    }
                    if (!applyPendingEvents()) {
                        if (!urgent) {
                            // The filler steps back; the handler threads read the events.
                            releaseRun(r, next, e);
                            LockSupport.parkNanos(1_000_000);
                            return;
                        }
                        LockSupport.parkNanos(50_000);
                    }
                    while (next < e && r.stateAcquire(next) == Region.GONE) {
                        next++;
                    }
                } catch (IllegalArgumentException | UffdException x) {
                    if (x instanceof IllegalArgumentException || isGone(((UffdException) x).errno())) {
                        // The range was unmapped or unregistered under us: nobody can be waiting on it.
                        r.dropPages(r.pageAddress(next), r.pageAddress(e));
                        return;
                    }
                    giveUp(r, next, e, urgent, x);
                    return;
                }
            }
        }

        private void giveUp(Region r, int s, int e, boolean urgent, Throwable cause) {
            counters.failures.increment();
            if (!urgent) {
                releaseRun(r, s, e);
                report(r, s, e - s, FaultFailure.Kind.KERNEL_ERROR, FaultFailure.Outcome.NONE, cause);
                return;
            }
            for (int p = s; p < e; p++) {
                fallback(r, p, FaultFailure.Kind.KERNEL_ERROR, cause, true);
            }
        }

        private void markLoaded(Region r, int s, int e, boolean urgent) {
            for (int p = s; p < e; p++) {
                r.loaded(p);
            }
            if (e > s) {
                long n = e - s;
                (urgent ? counters.pages : counters.backgroundPages).add(n);
                counters.bytes.add(n << r.pageShift);
                ownPages += n;
                ownBytes += n << r.pageShift;
            }
        }

        /** Non-blocking: reads what is pending, applies the events, keeps the faults for later. */
        abstract boolean applyPendingEvents();
    }

    private static boolean isGone(int errno) {
        return errno == Errno.ENOENT || errno == Errno.ESRCH;
    }

    /** A handler thread. */
    private final class Worker extends Loader {
        private EventBuffer buffer;
        private EventBuffer aux;
        private Fault fault;
        /** Asks JFR whether batch events are on, without allocating an event per batch; made once JFR runs. */
        private FaultBatchEvent batchProbe;
        // Faults taken from the kernel and not yet served: the current batch, plus any read while
        // applying events under EAGAIN. If this thread is abandoned, the watchdog wakes the rest.
        private long[] pendingAddress = new long[16];
        private long[] pendingFlags = new long[16];
        private int[] pendingTid = new int[16];
        private int pendingCount;
        private volatile int pendingHead;

        Worker(Slot slot) {
            super(slot);
            slot.worker = this;
        }

        @Override
        public void run() {
            open();
            buffer = EventBuffer.allocate(batchSize);
            aux = EventBuffer.allocate(batchSize);
            fault = new Fault(FaultService.this, this::staging);
            try {
                while (!abandoned) {
                    int n;
                    try {
                        n = uffd.read(buffer, IDLE_WAIT, doorbell);
                    } catch (IllegalStateException closedUnderUs) {
                        return;
                    }
                    if (n == 0) {
                        if (doorbell.isRung()) {
                            return;
                        }
                        continue;
                    }
                    handleBatch(buffer, n);
                }
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "uffd4j handler thread failed; starting a replacement", t);
                wakeUnserved();
                if (!closing.get()) {
                    startWorker();
                }
            } finally {
                buffer.close();
                aux.close();
                shut();
            }
        }

        private void handleBatch(EventBuffer b, int n) {
            long t0 = System.nanoTime();
            slot.inBatch = true;
            int faults = 0;
            long pages0 = ownPages;
            long bytes0 = ownBytes;
            try {
                pendingCount = 0;
                pendingHead = 0;
                for (int i = 0; i < n; i++) {
                    if (b.kind(i) == EventKind.PAGEFAULT) {
                        faults++;
                        defer(b.faultAddress(i), b.faultFlags(i), b.faultThreadId(i));
                    } else {
                        applyEvent(b, i);
                    }
                }
                while (pendingHead < pendingCount && !abandoned) {
                    int i = pendingHead;
                    pendingHead = i + 1;
                    handleFault(pendingAddress[i], pendingFlags[i], pendingTid[i], t0);
                }
            } finally {
                slot.inBatch = false;
            }
            if (jfrBatchEnabled()) {
                FaultBatchEvent e = new FaultBatchEvent();
                e.messages = n;
                e.faults = faults;
                e.pages = ownPages - pages0;
                e.bytes = ownBytes - bytes0;
                e.serviceNanos = System.nanoTime() - t0;
                e.commit();
            }
        }

        /**
         * Whether JFR records batch events. Event classes are loaded only once JFR has started: loading
         * one costs about a tenth of a second, which a service that nobody records should not pay.
         */
        private boolean jfrBatchEnabled() {
            if (!jdk.jfr.FlightRecorder.isInitialized()) {
                return false;
            }
            if (batchProbe == null) {
                batchProbe = new FaultBatchEvent();
            }
            return batchProbe.isEnabled();
        }

        /** Wakes the threads behind the faults this thread read but will not serve; they fault again. */
        void wakeUnserved() {
            for (int i = pendingHead; i < pendingCount; i++) {
                wakeQuietly(pendingAddress[i] & -Memory.pageSize(), Memory.pageSize());
            }
            pendingHead = pendingCount;
        }

        private void handleFault(long address, long flags, int faultTid, long t0) {
            counters.faults.increment();
            Region r = regionFor(address);
            if (r == null) {
                // Not ours (any more): wake whoever waits so that it sees what the address holds now.
                wakeQuietly(address & -Memory.pageSize(), Memory.pageSize());
                return;
            }
            int p = r.pageOf(address);
            if (isOwnThread(faultTid)) {
                selfFault(r, p, faultTid, address);
            } else if ((flags & UffdEvent.FLAG_WP) != 0) {
                writeFault(r, p);
            } else if (r.handler != null) {
                custom(r, p, address, flags, faultTid);
            } else {
                missing(r, p);
            }
            counters.latency.record(System.nanoTime() - t0);
        }

        private void missing(Region r, int p) {
            for (;;) {
                int s = r.stateAcquire(p);
                switch (s) {
                    case Region.MISSING -> {
                        if (!r.claim(p)) {
                            continue;
                        }
                        int base = (int) Math.max(1, faultAround >>> r.pageShift);
                        int max = (int) Math.max(base, maxReadahead >>> r.pageShift);
                        long block = r.readahead(p, base, max);
                        int start = (int) (block >>> 32);
                        int end = (int) block;
                        int s0 = p;
                        while (s0 > start && r.claim(s0 - 1)) {
                            s0--;
                        }
                        int e0 = p + 1;
                        while (e0 < end && r.claim(e0)) {
                            e0++;
                        }
                        load(r, s0, e0, p);
                        return;
                    }
                    case Region.PRESENT, Region.PRESENT_WOKEN -> {
                        // Usually another thread faulted on the page just served and its message was
                        // read late: wake it. But a REMOVE can race a fill (the kernel zaps after the
                        // event is read), leaving the state stale: then load the page again.
                        int inKernel = kernelPresent(r, p);
                        if (inKernel == 1 || (inKernel < 0 && s == Region.PRESENT)) {
                            if (inKernel == 1 || r.cas(p, Region.PRESENT, Region.PRESENT_WOKEN)) {
                                counters.alreadyPresent.increment();
                                wakeQuietly(r.pageAddress(p), r.pageSize);
                                return;
                            }
                        } else if (r.cas(p, (byte) s, Region.LOADING)) {
                            load(r, p, p + 1, p);
                            return;
                        }
                    }
                    case Region.LOADING -> {
                        // Another thread is loading it; its ioctl wakes this fault.
                        counters.alreadyPresent.increment();
                        return;
                    }
                    default -> {
                        // FAILED pages are poisoned and GONE pages unmapped: nothing waits there.
                        wakeQuietly(r.pageAddress(p), r.pageSize);
                        return;
                    }
                }
            }
        }

        private void writeFault(Region r, int p) {
            counters.writeFaults.increment();
            if (r.writeHook != null) {
                slot.begin(r, -1, p, p);
                Throwable error = null;
                try {
                    r.writeHook.beforeWrite(r, (long) p << r.pageShift, r.memory.asSlice((long) p << r.pageShift, r.pageSize));
                } catch (Throwable t) {
                    error = t;
                }
                if (!slot.end()) {
                    abandoned = true;
                    return;
                }
                if (error != null) {
                    counters.failures.increment();
                    report(r, p, 1, FaultFailure.Kind.SOURCE_FAILED, FaultFailure.Outcome.NONE, error);
                }
            }
            try {
                uffd.writeProtect(r.pageAddress(p), r.pageSize, false, 0);
            } catch (UffdException | IllegalArgumentException x) {
                wakeQuietly(r.pageAddress(p), r.pageSize);
            }
        }

        private void custom(Region r, int p, long address, long flags, int faultTid) {
            for (;;) {
                fault.reset(r, address, flags, faultTid);
                Throwable error = null;
                slot.begin(r, p, p, p + 1);
                try {
                    r.handler.onFault(fault);
                } catch (Throwable t) {
                    error = t;
                }
                if (!slot.end()) {
                    abandoned = true;
                    return;
                }
                if (fault.resolved() && error == null) {
                    return;
                }
                FaultFailure.Kind kind = error != null ? FaultFailure.Kind.SOURCE_FAILED : FaultFailure.Kind.NOT_RESOLVED;
                if (error == null) {
                    error = new IllegalStateException("the FaultHandler returned without resolving " + fault);
                }
                if (fault.resolved()) {
                    counters.failures.increment();
                    report(r, p, 1, kind, FaultFailure.Outcome.NONE, error);
                    return;
                }
                if (!attemptFailed(r, p, kind, error)) {
                    return;
                }
            }
        }

        private void selfFault(Region r, int p, int faultTid, long address) {
            counters.selfFaults.increment();
            counters.failures.increment();
            IllegalStateException cause = new IllegalStateException("thread " + faultTid + " of this FaultService faulted on "
                    + "its own region at 0x" + Long.toHexString(address) + " (" + r + "): a page source or fault handler must "
                    + "not touch the memory the service serves; the fault was failed instead of deadlocking");
            LOG.log(System.Logger.Level.ERROR, cause.getMessage());
            fallback(r, p, FaultFailure.Kind.SELF_FAULT, cause, true);
        }

        private void applyEvent(EventBuffer b, int i) {
            counters.events.increment();
            switch (b.kind(i)) {
                case REMOVE -> {
                    for (Region r : regions) {
                        r.resetPages(b.rangeStart(i), b.rangeEnd(i));
                    }
                }
                case UNMAP -> {
                    for (Region r : regions) {
                        r.dropPages(b.rangeStart(i), b.rangeEnd(i));
                    }
                }
                case REMAP -> {
                    long from = b.remapFrom(i);
                    long len = b.remapLength(i);
                    for (Region r : regions) {
                        if (r.address == from && r.length == len) {
                            r.address = b.remapTo(i);
                        } else {
                            r.dropPages(from, from + len);
                        }
                    }
                }
                default -> {
                    // FORK is never asked for.
                }
            }
        }

        @Override
        boolean applyPendingEvents() {
            int n;
            try {
                n = uffd.read(aux, Duration.ZERO);
            } catch (IllegalStateException closedUnderUs) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                if (aux.kind(i) == EventKind.PAGEFAULT) {
                    defer(aux.faultAddress(i), aux.faultFlags(i), aux.faultThreadId(i));
                } else {
                    applyEvent(aux, i);
                }
            }
            return n > 0;
        }

        private void defer(long address, long flags, int faultTid) {
            int n = pendingCount;
            if (n == pendingAddress.length) {
                pendingAddress = java.util.Arrays.copyOf(pendingAddress, n * 2);
                pendingFlags = java.util.Arrays.copyOf(pendingFlags, n * 2);
                pendingTid = java.util.Arrays.copyOf(pendingTid, n * 2);
            }
            pendingAddress[n] = address;
            pendingFlags[n] = flags;
            pendingTid[n] = faultTid;
            pendingCount = n + 1;
        }
    }

    /** The background filler. */
    private final class Filler extends Loader {
        private static final int CHUNK_BYTES = 256 * 1024;

        Filler(Slot slot) {
            super(slot);
        }

        @Override
        public void run() {
            open();
            try {
                boolean more = true;
                while (more && !stopFiller && !abandoned) {
                    more = false;
                    for (Region r : regions) {
                        if (r.background && fillSome(r)) {
                            more = true;
                        }
                    }
                }
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.ERROR, "uffd4j background filler failed", t);
            } finally {
                shut();
            }
        }

        /** Loads one chunk of {@code r}; false when the region has nothing left to load. */
        private boolean fillSome(Region r) {
            while (faultsInService() && !stopFiller) {
                LockSupport.parkNanos(50_000);
            }
            int p = r.fillCursor;
            while (p < r.pageCount && r.stateAcquire(p) != Region.MISSING) {
                p++;
            }
            if (p >= r.pageCount || stopFiller) {
                r.fillCursor = r.pageCount;
                return false;
            }
            if (!r.claim(p)) {
                return true;
            }
            int limit = (int) Math.min(r.pageCount, p + Math.max(1, CHUNK_BYTES >>> r.pageShift));
            int e = p + 1;
            while (e < limit && r.claim(e)) {
                e++;
            }
            load(r, p, e, -1);
            r.fillCursor = e;
            Thread.yield();
            return true;
        }

        @Override
        boolean applyPendingEvents() {
            return false;
        }
    }

    /**
     * Whether page {@code p} is mapped according to the kernel: 1 yes, 0 no, -1 unknown (no
     * PAGEMAP_SCAN before Linux 6.7; the caller then wakes once and reloads on a second fault).
     */
    private int kernelPresent(Region r, int p) {
        PagemapScanner scanner = pagemap;
        if (scanner == null) {
            return -1;
        }
        try {
            return scanner.isPresent(r.pageAddress(p), r.pageSize) ? 1 : 0;
        } catch (RuntimeException unsupported) {
            pagemap = null;
            return -1;
        }
    }

    // ---- failures ----------------------------------------------------------------------------

    /**
     * An attempt to load page {@code p}, which a thread waits for, failed. Returns true if the
     * caller should try again now; otherwise the fallback was applied.
     */
    private boolean attemptFailed(Region r, int p, FaultFailure.Kind kind, Throwable cause) {
        counters.failures.increment();
        int a = ++r.attempts[p];
        if (a <= policy.retries()) {
            report(r, p, 1, kind, FaultFailure.Outcome.RETRIED, cause);
            return true;
        }
        r.attempts[p] = 0;
        fallback(r, p, kind, cause, false);
        return false;
    }

    /**
     * Resolves page {@code p} (claimed or not) by the policy's fallback, or by an error when
     * forced. The failure is recorded before the ioctl wakes the faulting thread, so that its
     * {@link PageLoadException} carries the cause.
     */
    private void fallback(Region r, int p, FaultFailure.Kind kind, Throwable cause, boolean forceError) {
        boolean error = poisonSupported && (forceError || policy.fallback() == FailurePolicy.Fallback.ERROR);
        FaultFailure f = failure(r, p, 1, kind, error ? FaultFailure.Outcome.ERROR : FaultFailure.Outcome.ZERO_PAGE, cause);
        if (error) {
            r.failures.put(p, f);
        }
        publish(f);
        try {
            if (error) {
                poisonPage(r, p);
            } else {
                zeroFill(r, p);
                r.force(p, Region.PRESENT);
            }
        } catch (RuntimeException x) {
            r.failures.remove(p);
            wakeQuietly(r.pageAddress(p), r.pageSize);
            publish(failure(r, p, 1, FaultFailure.Kind.KERNEL_ERROR, FaultFailure.Outcome.NONE, x));
        }
    }

    /** UFFDIO_POISON on page {@code p}: state FAILED; a page that turned out present is just woken. */
    void poisonPage(Region r, int p) {
        r.force(p, Region.FAILED);
        try {
            uffd.poison(r.pageAddress(p), r.pageSize, 0);
        } catch (PageExistsException present) {
            r.force(p, Region.PRESENT);
            uffd.wake(r.pageAddress(p), r.pageSize);
        }
    }

    /** Maps zeros at page {@code p}: ZEROPAGE where the memory allows it, else a copy of zeros. */
    void zeroFill(Region r, int p) {
        long addr = r.pageAddress(p);
        try {
            if (r.alias != null) {
                r.alias.asSlice((long) p << r.pageShift, r.pageSize).fill((byte) 0);
                uffd.continueRange(addr, r.pageSize, 0);
            } else if (r.pageSize == Memory.pageSize()) {
                uffd.zeropage(addr, r.pageSize, 0);
            } else {
                uffd.copy(addr, zeros(r.pageSize).address(), r.pageSize, 0);
            }
        } catch (PageExistsException present) {
            uffd.wake(addr, r.pageSize);
        }
    }

    private MemorySegment zeros(long bytes) {
        MemorySegment z = zeros;
        if (z == null || z.byteSize() < bytes) {
            synchronized (zerosLock) {
                z = zeros;
                if (z == null || z.byteSize() < bytes) {
                    z = Arena.ofAuto().allocate(bytes, Memory.pageSize());
                    zeros = z;
                }
            }
        }
        return z;
    }

    private void releaseRun(Region r, int s, int e) {
        for (int p = s; p < e; p++) {
            r.release(p);
        }
        wakeQuietly(r.pageAddress(s), (long) (e - s) << r.pageShift);
    }

    private void wakeQuietly(long address, long length) {
        try {
            uffd.wake(address, length);
        } catch (RuntimeException ignored) {
            // the range is gone or was never ours: nobody can be waiting there
        }
    }

    private static FaultFailure failure(Region r, int page, int pages, FaultFailure.Kind kind, FaultFailure.Outcome outcome,
                                        Throwable cause) {
        return new FaultFailure(r, (long) page << r.pageShift, (long) pages << r.pageShift, kind, outcome, cause);
    }

    private void report(Region r, int page, int pages, FaultFailure.Kind kind, FaultFailure.Outcome outcome, Throwable cause) {
        publish(failure(r, page, pages, kind, outcome, cause));
    }

    /** To JFR, the log and the listener. */
    private void publish(FaultFailure f) {
        Region r = f.region();
        FaultFailure.Kind kind = f.kind();
        FaultFailure.Outcome outcome = f.outcome();
        Throwable cause = f.cause();
        FaultFailureEvent e = jdk.jfr.FlightRecorder.isInitialized() ? new FaultFailureEvent() : null;
        if (e != null && e.isEnabled()) {
            e.region = r.name;
            e.offset = f.offset();
            e.length = f.length();
            e.kind = kind.name();
            e.outcome = outcome.name();
            e.cause = String.valueOf(cause);
            e.commit();
        }
        LOG.log(outcome == FaultFailure.Outcome.RETRIED ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING, "uffd4j: {0}", f);
        Consumer<FaultFailure> l = failureListener;
        if (l != null) {
            try {
                l.accept(f);
            } catch (RuntimeException x) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j failure listener threw", x);
            }
        }
    }

    // ---- the watchdog ------------------------------------------------------------------------

    private void watch() {
        long period = Math.max(1_000_000L, Math.min(timeoutNanos / 4, 100_000_000L));
        while (!closed) {
            LockSupport.parkNanos(period);
            long now = System.nanoTime();
            for (Slot s : slots) {
                if (s.phase.get() == Slot.BUSY && now - s.since > timeoutNanos) {
                    abandon(s, false);
                }
            }
        }
    }

    /**
     * Takes over an attempt that ran too long (or is still running at close): its thread's late
     * result will be dropped, its pages are released or failed, and a fresh thread takes its place.
     */
    private void abandon(Slot s, boolean forClose) {
        if (!s.phase.compareAndSet(Slot.BUSY, Slot.ABANDONED)) {
            return;
        }
        Region r = s.region;
        int p = s.faultPage;
        TimeoutException cause = new TimeoutException((forClose ? "the FaultService closed while " : "")
                + (r.handler != null ? "the fault handler" : r.writeHook != null && p < 0 && s.runStart == s.runEnd
                ? "the write-protect hook" : "the page source") + " ran for more than "
                + (forClose ? closeTimeout : policy.timeout()) + " on pages [" + s.runStart + ", " + s.runEnd + ") of " + r);
        counters.timeouts.increment();
        if (p >= 0) {
            if (s.runStart < p) {
                releaseRun(r, s.runStart, p);
            }
            if (p + 1 < s.runEnd) {
                releaseRun(r, p + 1, s.runEnd);
            }
            if (forClose) {
                counters.failures.increment();
                fallback(r, p, FaultFailure.Kind.CLOSED, cause, true);
            } else {
                timedOut(r, p, cause);
            }
        } else if (s.runEnd > s.runStart) {
            releaseRun(r, s.runStart, s.runEnd);
            report(r, s.runStart, s.runEnd - s.runStart, FaultFailure.Kind.TIMED_OUT, FaultFailure.Outcome.NONE, cause);
        } else {
            // a write-protect hook: let the write go ahead
            try {
                uffd.writeProtect(r.pageAddress(s.runStart), r.pageSize, false, 0);
            } catch (RuntimeException x) {
                cause.addSuppressed(x);
            }
            report(r, s.runStart, 1, FaultFailure.Kind.TIMED_OUT, FaultFailure.Outcome.NONE, cause);
        }
        if (s.worker != null) {
            s.worker.wakeUnserved();
        }
        if (!closing.get()) {
            if (s.filler) {
                filler = null;
                startFillerIfNeeded();
            } else {
                startWorker();
            }
        }
    }

    /**
     * An attempt on page {@code p}, which a thread waits for, ran past the timeout. While retries
     * remain, the page is given back (if it was claimed) and the thread woken: its fault comes
     * again and a fresh thread tries. Then the fallback.
     */
    private void timedOut(Region r, int p, Throwable cause) {
        if (attemptFailed(r, p, FaultFailure.Kind.TIMED_OUT, cause)) {
            releaseRun(r, p, p + 1);
        }
    }

    // ---- closing -----------------------------------------------------------------------------

    /**
     * Stops the service: stops the background filler, lets the handler threads serve what is
     * pending for up to the close timeout, fails what is still pending (the waiting threads get
     * an error, never a silent zero page), poisons the pages never loaded (see
     * {@link Builder#poisonUnloadedOnClose}), unregisters every region, stops the threads and
     * closes the userfaultfd. Returns within about the close timeout plus a second, even when a
     * page source never returns. Idempotent.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        stopFiller = true;
        long deadline = System.nanoTime() + closeTimeout.toNanos();
        try {
            while (System.nanoTime() < deadline && (busy() || uffd.hasPendingMessages())) {
                LockSupport.parkNanos(1_000_000);
            }
        } catch (RuntimeException x) {
            LOG.log(System.Logger.Level.WARNING, "uffd4j: while draining faults at close", x);
        }
        for (Slot s : slots) {
            abandon(s, true);
        }
        synchronized (this) {
            for (Region r : regions) {
                retire(r);
            }
            regions = new Region[0];
        }
        doorbell.ring();
        long joinDeadline = System.nanoTime() + Duration.ofSeconds(1).toNanos();
        closed = true;
        LockSupport.unpark(watchdog);
        for (Thread t : new ArrayList<>(allThreads)) {
            if (t == Thread.currentThread()) {
                continue;
            }
            long left = joinDeadline - System.nanoTime();
            if (left > 0) {
                try {
                    t.join(Duration.ofNanos(left));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        uffd.close();
        doorbell.close();
        PagemapScanner scanner = pagemap;
        pagemap = null;
        if (scanner != null) {
            scanner.close();
        }
    }

    private boolean busy() {
        for (Slot s : slotArray) {
            if (s.phase.get() == Slot.BUSY || (s.inBatch && s.phase.get() != Slot.ABANDONED)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a live handler thread is serving faults now. Allocates nothing. */
    private boolean faultsInService() {
        for (Slot s : slotArray) {
            if (s.inBatch && s.phase.get() != Slot.ABANDONED) {
                return true;
            }
        }
        return false;
    }

    /** Poisons what was never loaded (if asked), then unregisters: no thread is left asleep and no page silently zero. */
    private void retire(Region r) {
        if (poisonOnClose) {
            TimeoutException cause = null;
            int p = 0;
            while (p < r.pageCount) {
                int s = r.stateAcquire(p);
                if (s != Region.MISSING && s != Region.LOADING) {
                    p++;
                    continue;
                }
                int q = p + 1;
                while (q < r.pageCount && (r.stateAcquire(q) == Region.MISSING || r.stateAcquire(q) == Region.LOADING)) {
                    q++;
                }
                if (cause == null) {
                    cause = new TimeoutException("the FaultService closed before the page was loaded");
                }
                poisonRun(r, p, q, cause);
                p = q;
            }
        }
        try {
            uffd.unregister(r.address, r.length);
        } catch (RuntimeException x) {
            LOG.log(System.Logger.Level.DEBUG, "uffd4j: unregister at close", x);
        }
    }

    private void poisonRun(Region r, int s, int e, Throwable cause) {
        FaultFailure f = failure(r, s, e - s, FaultFailure.Kind.CLOSED, FaultFailure.Outcome.ERROR, cause);
        for (int p = s; p < e; p++) {
            r.force(p, Region.FAILED);
            r.failures.putIfAbsent(p, f);
        }
        int next = s;
        while (next < e) {
            try {
                uffd.poison(r.pageAddress(next), (long) (e - next) << r.pageShift, 0);
                next = e;
            } catch (PageExistsException x) {
                int done = next + (int) (x.bytesDone() >>> r.pageShift);
                r.force(done, Region.PRESENT);
                wakeQuietly(r.pageAddress(done), r.pageSize);
                next = done + 1;
            } catch (AddressSpaceChangedException x) {
                next += (int) (x.bytesDone() >>> r.pageShift);
                LockSupport.parkNanos(100_000);
            } catch (RuntimeException x) {
                LOG.log(System.Logger.Level.DEBUG, "uffd4j: poison at close", x);
                return;
            }
        }
        for (int p = s; p < e; p++) {
            if (r.stateAcquire(p) != Region.FAILED) {
                r.failures.remove(p, f);
            }
        }
    }
}
