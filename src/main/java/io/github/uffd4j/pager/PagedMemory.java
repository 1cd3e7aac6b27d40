package io.github.uffd4j.pager;

import io.github.uffd4j.internal.Jfr;
import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.Pidfd;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.handler.FaultService;

import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The app's side of a {@link Pager}: memory that another process pages in, so that this JVM's
 * own Java code may read and write it freely ({@code MemorySegment.get/set}, JIT-compiled loops,
 * while the GC runs). A fault taken in Java code only waits for the pager; a safepoint waits with
 * it, for as long as the pager takes to serve that page.
 *
 * <pre>{@code
 * try (PagedMemory pager = PagedMemory.connect(Path.of("/run/uffd4j/pager.sock"))) {
 *     PagedMemory.Region r = pager.map("data", 1L << 30, URI.create("file:/data/big.bin"));
 *     long sum = 0;
 *     for (long o = 0; o < r.segment().byteSize(); o += 8) {
 *         sum += r.segment().get(ValueLayout.JAVA_LONG, o);    // plain Java: pages come in on first touch
 *     }
 * }
 * }</pre>
 *
 * <p>This JVM creates the userfaultfd (it needs the privilege: root, CAP_SYS_PTRACE, or access to
 * /dev/userfaultfd), registers its memory, and sends the descriptor to the pager, keeping its own
 * copy. A region is usable once the pager has acknowledged it.
 *
 * <p>If the pager dies, threads that touch pages not yet loaded wait (and a safepoint waits with
 * them: the whole JVM may stop) until something outside this JVM takes over: a pager started with
 * {@code --restarts} ({@link Pager.Builder#recover}) serves them again, or, once its restarts are
 * used up, poisons the pages never loaded so that those threads get
 * {@code InternalError("a fault occurred in an unsafe memory access operation")} instead of zeros
 * or a frozen JVM. Once this JVM runs again it learns what happened through
 * {@link Builder#onPagerEvent}, a JFR event ({@code io.github.uffd4j.PagerConnection}) and the
 * log, and reconnects to the replacement by itself.
 *
 * <p>Thread safe: requests to the pager are made one at a time.
 */
public final class PagedMemory implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(PagedMemory.class.getName());
    private static final Duration REPLY_WAIT = Duration.ofSeconds(30);

    /**
     * What happened to the pager.
     *
     * @param kind what happened
     * @param pagerPid the pager process it happened to
     * @param detail a sentence for logs
     */
    public record PagerEvent(Kind kind, long pagerPid, String detail) {
        /** The kinds of {@link PagerEvent}. */
        public enum Kind {
            /** The pager process exited: pages not loaded wait for a replacement. */
            LOST,
            /** A replacement pager took over and this JVM reconnected to it. */
            RESUMED,
            /** No replacement came within the reconnect timeout: new regions cannot be mapped. */
            ABANDONED
        }
    }

    private enum State { SERVED, LOST, ABANDONED }

    private final Userfaultfd uffd;
    private final Builder settings;
    private final List<Region> regions = new CopyOnWriteArrayList<>();
    private final Object requests = new Object();
    private final Object stateLock = new Object();
    private final Thread watcher;
    private final Path socketPath;
    private final Launched launched;
    private volatile UnixSocket socket;
    private volatile Pidfd pager;
    private volatile State state = State.SERVED;
    private volatile String lostReason = "";
    private volatile boolean closed;

    private PagedMemory(Userfaultfd uffd, UnixSocket socket, Pidfd pager, Builder settings, Path socketPath, Launched launched) {
        this.uffd = uffd;
        this.socketPath = socketPath;
        this.launched = launched;
        this.socket = socket;
        this.pager = pager;
        this.settings = settings;
        this.watcher = Thread.ofPlatform().daemon().name("uffd4j-pager-watch").unstarted(this::watch);
    }

    /**
     * Opens a userfaultfd, connects to the pager listening on {@code socket} and hands it the descriptor.
     *
     * @param socket the pager's unix socket
     * @return the memory, owned by the caller (close it)
     */
    public static PagedMemory connect(Path socket) {
        return builder(socket).connect();
    }

    /**
     * Starts a pager of this JVM's own (see {@link #builder()}) with the default settings, and
     * hands it a new userfaultfd.
     *
     * @return the memory, owned by the caller (close it)
     */
    public static PagedMemory launch() {
        return builder().connect();
    }

    /**
     * Settings for connecting to the pager that listens at {@code socket} (started with
     * {@code scripts/pager}).
     *
     * @param socket the pager's unix socket
     * @return a builder
     */
    public static Builder builder(Path socket) {
        return new Builder(Objects.requireNonNull(socket, "socket"));
    }

    /**
     * Settings for memory served by a pager that this JVM starts for itself: a new JVM (started
     * with {@link ProcessBuilder}, never a fork of this one) with the same java and class or
     * module path, under a supervisor JVM that replaces it if it dies ({@link Builder#pagerRestarts}),
     * listening in a new private directory under {@code java.io.tmpdir}. Both stop when this
     * memory is closed or this JVM exits, and the directory is removed. This JVM checks that the
     * process it hands its memory to is the pager it started (the started process or its child).
     *
     * @return a builder
     */
    public static Builder builder() {
        return new Builder(null);
    }

    /** How to reach a pager (or start one) and what to do when it dies. Not thread safe. */
    public static final class Builder {
        private final Path socket;
        private Consumer<PagerEvent> listener = e -> { };
        private Duration reconnectTimeout = Duration.ofSeconds(60);
        private final Set<Integer> pagerUids = new java.util.HashSet<>();
        private int pagerThreads = 2;
        private int pagerRestarts = 3;
        private Duration pagerFaultDeadline = Duration.ofSeconds(30);
        private List<String> pagerJvmOptions = List.of();
        private Duration pagerStartTimeout = Duration.ofSeconds(30);
        private String launchSetting;

        private Builder(Path socket) {
            this.socket = socket;
        }

        /**
         * Called (on a thread of the library) when the pager dies, is replaced, or is given up on.
         *
         * @param listener receives each event
         * @return this builder
         */
        public Builder onPagerEvent(Consumer<PagerEvent> listener) {
            this.listener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * How long to wait for a replacement after the pager died before giving up (default 60 s).
         *
         * @param timeout the longest wait for a replacement
         * @return this builder
         */
        public Builder reconnectTimeout(Duration timeout) {
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("reconnect timeout must not be negative: " + timeout);
            }
            this.reconnectTimeout = timeout;
            return this;
        }

        /**
         * The uids the pager may run as (checked with SO_PEERCRED before the descriptor is sent;
         * default: this process's uid and root).
         *
         * @param uids the allowed uids
         * @return this builder
         */
        public Builder pagerUids(int... uids) {
            java.util.Arrays.stream(uids).forEach(pagerUids::add);
            return this;
        }

        /**
         * A pager this JVM starts: handler threads (default 2).
         *
         * @param n the thread count
         * @return this builder
         */
        public Builder pagerThreads(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("pager threads must be at least 1, not " + n);
            }
            this.pagerThreads = n;
            return launchSetting("pagerThreads");
        }

        /**
         * A pager this JVM starts: how many times its supervisor replaces it when it dies before
         * poisoning the pages not loaded (default 3); -1 runs the pager without a supervisor (a
         * pager that dies then leaves threads touching missing pages waiting: avoid).
         *
         * @param n the replacements allowed, or -1 for no supervisor
         * @return this builder
         */
        public Builder pagerRestarts(int n) {
            if (n < -1) {
                throw new IllegalArgumentException("pager restarts must be -1 (no supervisor) or more, not " + n);
            }
            this.pagerRestarts = n;
            return launchSetting("pagerRestarts");
        }

        /**
         * A pager this JVM starts: how long a page source may take for a page before it is poisoned (default
         * 30 s).
         *
         * @param deadline the time a source gets per page
         * @return this builder
         */
        public Builder pagerFaultDeadline(Duration deadline) {
            if (deadline.isNegative() || deadline.isZero()) {
                throw new IllegalArgumentException("the fault deadline must be positive: " + deadline);
            }
            this.pagerFaultDeadline = deadline;
            return launchSetting("pagerFaultDeadline");
        }

        /**
         * A pager this JVM starts: options for its JVM, such as {@code -Xmx512m} (default none).
         *
         * @param options JVM options, one per element
         * @return this builder
         */
        public Builder pagerJvmOptions(List<String> options) {
            this.pagerJvmOptions = List.copyOf(options);
            return launchSetting("pagerJvmOptions");
        }

        /**
         * A pager this JVM starts: how long to wait for it to listen (default 30 s).
         *
         * @param timeout the longest wait
         * @return this builder
         */
        public Builder pagerStartTimeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the start timeout must be positive: " + timeout);
            }
            this.pagerStartTimeout = timeout;
            return launchSetting("pagerStartTimeout");
        }

        private Builder launchSetting(String name) {
            launchSetting = name;
            return this;
        }

        /**
         * Starts the pager if this builder is to start one, opens the userfaultfd, connects, and
         * hands the pager the descriptor.
         *
         * @return the memory, owned by the caller (close it)
         */
        public PagedMemory connect() {
            if (socket != null && launchSetting != null) {
                throw new IllegalStateException(launchSetting + "(...) applies to a pager this JVM starts "
                        + "(PagedMemory.builder()), not to the running one at " + socket);
            }
            Launched launched = socket == null ? Launched.start(this) : null;
            Path path = launched != null ? launched.socket() : socket;
            Userfaultfd uffd = null;
            UnixSocket s = null;
            Pidfd p = null;
            try {
                uffd = Userfaultfd.builder().features(FaultService.usableFeatures()).open();
                s = launched != null ? launched.connect(pagerStartTimeout) : UnixSocket.connect(path);
                p = checkedPager(s, path, launched);
                PagedMemory m = new PagedMemory(uffd, s, p, this, path, launched);
                m.exchange(s, new PagerProtocol.Hello(Feature.toMask(uffd.features()), uffd.fd()), uffd.fd());
                m.watcher.start();
                return m;
            } catch (RuntimeException | Error e) {
                if (p != null) {
                    p.close();
                }
                if (s != null) {
                    s.close();
                }
                if (uffd != null) {
                    uffd.close();
                }
                if (launched != null) {
                    launched.stop();
                }
                throw e;
            }
        }

        /**
         * The peer's pidfd, once its uid is one we trust with our memory and, for a pager this JVM
         * started, once it is that process or its child (the pager under its supervisor).
         */
        private Pidfd checkedPager(UnixSocket s, Path path, Launched launched) {
            int uid = s.peer().uid();
            Set<Integer> trusted = pagerUids.isEmpty() ? new java.util.HashSet<>(List.of(UnixSocket.currentUid(), 0)) : pagerUids;
            if (!trusted.contains(uid)) {
                throw new PagerException("the process listening on " + path + " runs as uid " + uid + ", not one of "
                        + trusted + ": not handing it this process's memory");
            }
            Pidfd p = Pidfd.ofPeer(s);
            if (launched != null && !launched.isPagerProcess(p.pid())) {
                p.close();
                throw new PagerException("the process listening on " + path + " (pid " + p.pid()
                        + ") is not the pager this JVM started (pid " + launched.process().pid() + ") nor its child: "
                        + "not handing it this process's memory");
            }
            return p;
        }
    }

    /**
     * Maps {@code length} bytes of anonymous memory (rounded up to whole pages) whose pages the
     * pager fills from {@code source} ({@link Sources} lists the URIs it knows) on first touch.
     * Returns once the pager serves the region.
     *
     * @param name the region's name, for logs and the pager
     * @param length the size in bytes
     * @param source the URI the pager fills the pages from
     * @return the region, served from now on (close it to unmap)
     */
    public Region map(String name, long length, URI source) {
        return map(name, length, source, RegionSpec.Backing.ANONYMOUS, null);
    }

    /**
     * Maps {@code length} bytes of {@code backing} memory (rounded up to whole pages of its kind)
     * served by the pager from {@code source}. Shared memory (SHMEM, SHARED_HUGETLB) is a memfd
     * sent to the pager along: the pager writes the page cache through a mapping of its own and
     * the faults are MINOR ones (UFFDIO_CONTINUE); it can also read the pages without any ptrace
     * right. Hugetlb kinds need free huge pages of {@code hugePages} size in the pool (null means
     * 2 MiB; ignored for the others).
     *
     * @param name the region's name, for logs and the pager
     * @param length the size in bytes
     * @param source the URI the pager fills the pages from
     * @param backing the kind of memory
     * @param hugePages the huge page size for the hugetlb kinds, else ignored (may be null)
     * @return the region, served from now on (close it to unmap)
     */
    public Region map(String name, long length, URI source, RegionSpec.Backing backing, HugePageSize hugePages) {
        ensureOpen();
        Objects.requireNonNull(backing, "backing");
        HugePageSize huge = hugePages != null ? hugePages : HugePageSize.SIZE_2MB;
        SharedMemory shared = null;
        Mapping mapping = switch (backing) {
            case ANONYMOUS -> Memory.anonymous(length);
            case HUGETLB -> Memory.hugetlb(length, huge);
            case SHMEM -> (shared = Memory.shared(length)).view();
            case SHARED_HUGETLB -> (shared = Memory.sharedHugetlb(length, huge)).view();
        };
        // write protection too where the kernel has it for this kind of memory: the pager can then snapshot it
        boolean wp = uffd.hasFeature(Feature.PAGEFAULT_FLAG_WP)
                && (backing == RegionSpec.Backing.ANONYMOUS || uffd.hasFeature(Feature.WP_HUGETLBFS_SHMEM));
        Region r = new Region(this, name, mapping, shared, wp);
        try {
            EnumSet<RegisterMode> modes = shared != null ? EnumSet.of(RegisterMode.MISSING, RegisterMode.MINOR)
                    : EnumSet.of(RegisterMode.MISSING);
            if (wp) {
                modes.add(RegisterMode.WP);
            }
            uffd.register(mapping.segment(), modes);
            RegionSpec spec = new RegionSpec(name, mapping.address(), mapping.byteSize(), mapping.pageSize(), source, backing);
            int memfd = shared != null ? shared.fd() : -1;
            request(new PagerProtocol.Add(spec, memfd), shared != null ? new int[] {memfd} : new int[0]);
            regions.add(r);
            return r;
        } catch (RuntimeException | Error e) {
            release(r);
            throw e;
        }
    }

    /**
     * The regions mapped and not closed.
     *
     * @return the regions, a snapshot
     */
    public List<Region> regions() {
        return List.copyOf(regions);
    }

    /**
     * Whether a pager serves this memory now (false while the pager is lost or after it was given up on).
     *
     * @return true while a pager serves it
     */
    public boolean isServed() {
        return state == State.SERVED;
    }

    /**
     * The pid of the pager process serving (or last serving) this memory.
     *
     * @return the pager's pid
     */
    public long pagerPid() {
        return pager.pid();
    }

    /** Sends one request and waits for its reply; throws {@link PagerException} when refused or the pager is gone. */
    PagerProtocol.Message request(PagerProtocol.Message m, int... fds) {
        awaitServed();
        return exchange(socket, m, fds);
    }

    /** The reply to {@code m}: an accepting REPLY, or the answer to a question (STATS_REPLY). */
    private PagerProtocol.Message exchange(UnixSocket s, PagerProtocol.Message m, int... fds) {
        String answer;
        synchronized (requests) {
            try {
                s.send(PagerProtocol.encode(m), fds);
            } catch (UffdException gone) {
                // a pager that refuses us replies and closes before reading: its reason may be waiting
                throw new PagerException(refusal(s, gone), gone);
            }
            try (UnixSocket.Message reply = s.receive(REPLY_WAIT)) {
                if (reply == null) {
                    throw new PagerException("the pager did not answer within " + REPLY_WAIT.toSeconds() + " s");
                }
                if (reply.isEndOfStream()) {
                    throw new PagerException("the pager closed the connection");
                }
                PagerProtocol.Message answered = PagerProtocol.decode(reply.data());
                if (!(answered instanceof PagerProtocol.Reply r)) {
                    if (m instanceof PagerProtocol.Stats && answered instanceof PagerProtocol.StatsReply
                            || (m instanceof PagerProtocol.Snapshot || m instanceof PagerProtocol.SnapshotStatus)
                            && answered instanceof PagerProtocol.SnapshotReply) {
                        return answered;
                    }
                    throw new PagerException("the pager sent a " + answered.getClass().getSimpleName() + " where a reply was due");
                }
                if (r.ok()) {
                    return r;
                }
                answer = r.text();
            } catch (UffdClosedException e) {
                throw new PagerException("the connection to the pager was closed (the pager died?)", e);
            }
        }
        throw new PagerException("the pager refused: " + answer);
    }

    /**
     * The counters of the pager's service of this memory (every region since it connected; after
     * a pager died, since its replacement took over): faults, pages loaded, failures, latency.
     *
     * @return the pager's counters for this memory
     * @throws PagerException when no pager serves this memory now
     */
    public io.github.uffd4j.handler.FaultStats stats() {
        ensureOpen();
        if (request(new PagerProtocol.Stats()) instanceof PagerProtocol.StatsReply r) {
            return r.stats();
        }
        throw new PagerException("the pager answered STATS with something else (a pager of an older uffd4j?)");
    }

    /** What to say when a send failed: the pager's last word, if it left one. */
    private static String refusal(UnixSocket s, UffdException sendFailure) {
        try (UnixSocket.Message last = s.receive(Duration.ofMillis(500))) {
            if (last != null && !last.isEndOfStream() && PagerProtocol.decode(last.data()) instanceof PagerProtocol.Reply r
                    && !r.ok()) {
                return "the pager refused: " + r.text();
            }
        } catch (RuntimeException nothingMore) {
            // no reply to read
        }
        return "the pager closed the connection (" + sendFailure.getMessage() + ")";
    }

    /** Waits while the pager is lost (bounded by the reconnect timeout); throws once it was given up on. */
    private void awaitServed() {
        synchronized (stateLock) {
            long deadline = System.nanoTime() + settings.reconnectTimeout.toNanos() + 1_000_000_000L;
            while (state == State.LOST && !closed && System.nanoTime() - deadline < 0) {
                try {
                    stateLock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PagerException("interrupted while waiting for a replacement pager");
                }
            }
            if (state != State.SERVED) {
                throw new PagerException("no pager serves this memory: " + lostReason);
            }
        }
    }

    /** The watcher: waits for the pager process to exit, then for a replacement to reconnect to. */
    private void watch() {
        while (!closed) {
            Pidfd p = pager;
            try {
                p.awaitExit(null);
            } catch (UffdClosedException closing) {
                return;
            }
            if (closed) {
                return;
            }
            lostReason = "pager pid " + p.pid() + " exited";
            setState(State.LOST);
            report(new PagerEvent(PagerEvent.Kind.LOST, p.pid(), lostReason
                    + "; pages not loaded wait for a replacement"), System.Logger.Level.WARNING);
            if (!reconnect()) {
                return;
            }
        }
    }

    /** Connects to the replacement and resumes; false (and ABANDONED) when none answers in time. */
    private boolean reconnect() {
        long deadline = System.nanoTime() + settings.reconnectTimeout.toNanos();
        String last = "nobody listened on " + socketPath;
        while (!closed) {
            if (launched != null && !launched.process().isAlive()) {
                last = "the pager this JVM started exited with status " + launched.process().exitValue() + launched.logTail();
                break;
            }
            UnixSocket s = null;
            Pidfd p = null;
            try {
                s = UnixSocket.connect(socketPath);
                p = settings.checkedPager(s, socketPath, launched);
                exchange(s, new PagerProtocol.Resume());
                UnixSocket old = socket;
                Pidfd oldPager = pager;
                synchronized (requests) {
                    socket = s;
                    pager = p;
                }
                old.close();
                oldPager.close();
                setState(State.SERVED);
                report(new PagerEvent(PagerEvent.Kind.RESUMED, p.pid(), "pager pid " + p.pid() + " serves this memory now"),
                        System.Logger.Level.INFO);
                return true;
            } catch (RuntimeException e) {
                last = e.getMessage();
                if (p != null) {
                    p.close();
                }
                if (s != null) {
                    s.close();
                }
            }
            if (System.nanoTime() - deadline > 0) {
                break;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                break;
            }
        }
        if (closed) {
            return false;
        }
        lostReason = lostReason + "; no replacement within " + settings.reconnectTimeout.toSeconds() + " s (" + last + ")";
        setState(State.ABANDONED);
        report(new PagerEvent(PagerEvent.Kind.ABANDONED, pager.pid(), lostReason), System.Logger.Level.ERROR);
        return false;
    }

    private void setState(State s) {
        synchronized (stateLock) {
            state = s;
            stateLock.notifyAll();
        }
    }

    private void report(PagerEvent e, System.Logger.Level level) {
        LOG.log(level, "uffd4j: " + e.kind() + ": " + e.detail());
        if (Jfr.started()) {
            PagerConnectionEvent jfr = new PagerConnectionEvent();
            if (jfr.isEnabled()) {
                jfr.kind = e.kind().name();
                jfr.pagerPid = e.pagerPid();
                jfr.detail = e.detail();
                jfr.commit();
            }
        }
        try {
            settings.listener.accept(e);
        } catch (RuntimeException x) {
            LOG.log(System.Logger.Level.WARNING, "uffd4j: the pager event listener threw", x);
        }
    }

    private void remove(Region r) {
        if (!regions.remove(r)) {
            return;
        }
        try {
            if (!closed) {
                request(new PagerProtocol.Remove(r.mapping.address()));
            }
        } finally {
            release(r);
        }
    }

    /** Unregisters first (a munmap of registered memory would wait for the pager to read the UNMAP event), then unmaps. */
    private void release(Region r) {
        try {
            uffd.unregister(r.mapping.segment());
        } catch (RuntimeException alreadyGone) {
            // not registered (any more): nothing to undo
        }
        if (r.shared != null) {
            r.shared.close();
        } else {
            r.mapping.close();
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("PagedMemory is closed");
        }
    }

    /**
     * Removes every region (the pager stops serving it, then it is unmapped: its segments must
     * not be used afterwards), says goodbye and closes the descriptor. Idempotent. With no pager
     * serving, the regions are unmapped all the same (pages never loaded are then lost with them).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        List<RuntimeException> errors = new ArrayList<>();
        boolean served = state == State.SERVED;
        for (Region r : regions) {
            try {
                if (served) {
                    remove(r);
                } else if (regions.remove(r)) {
                    release(r);
                }
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        closed = true;
        setState(state);
        if (served) {
            try {
                request(new PagerProtocol.Bye());
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        pager.close();
        try {
            watcher.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        socket.close();
        uffd.close();
        if (launched != null) {
            launched.stop();
        }
        if (!errors.isEmpty()) {
            PagerException e = new PagerException("closing: " + errors.getFirst().getMessage(), errors.getFirst());
            errors.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
    }

    /** A pager this JVM started: the process (its supervisor, or the pager itself) and its private directory. */
    private record Launched(Process process, Path directory) {

        static Launched start(Builder b) {
            Path dir;
            try {
                // createTempDirectory makes it rwx------ on POSIX file systems: a private directory for the socket
                dir = java.nio.file.Files.createTempDirectory("uffd4j-pager-");
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot create a directory for the pager in " + System.getProperty("java.io.tmpdir"), e);
            }
            ProcessHandle me = ProcessHandle.current();
            PagerLaunch.Options o = new PagerLaunch.Options(dir.resolve("pager.sock"), Set.of(UnixSocket.currentUid()),
                    b.pagerThreads, b.pagerFaultDeadline, b.pagerRestarts, dir.resolve("journal"), false, me.pid(),
                    Pidfd.startTime(me.pid()), true, b.pagerJvmOptions);
            List<String> jvm = b.pagerRestarts >= 0 ? List.of("-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
                    : b.pagerJvmOptions;
            List<String> cmd = PagerLaunch.command(o, jvm);
            Path log = dir.resolve("pager.log");
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                LOG.log(System.Logger.Level.DEBUG, () -> "uffd4j: started a pager, pid " + p.pid() + ": " + String.join(" ", cmd));
                return new Launched(p, dir);
            } catch (java.io.IOException e) {
                PagerLaunch.removeDirectory(dir);
                throw new PagerException("cannot start a pager: " + e.getMessage() + " (command: " + String.join(" ", cmd) + ")", e);
            }
        }

        Path socket() {
            return directory.resolve("pager.sock");
        }

        /** Connects once the pager listens; fails when it exits first or takes longer than {@code timeout}. */
        UnixSocket connect(Duration timeout) {
            long deadline = System.nanoTime() + timeout.toNanos();
            for (;;) {
                try {
                    return UnixSocket.connect(socket());
                } catch (UffdException notYet) {
                    if (!"ENOENT".equals(notYet.errnoName()) && !"ECONNREFUSED".equals(notYet.errnoName())) {
                        throw notYet;
                    }
                }
                if (!process.isAlive()) {
                    throw new PagerException("the pager this JVM started exited with status " + process.exitValue()
                            + " before it listened" + logTail());
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new PagerException("the pager this JVM started (pid " + process.pid() + ") did not listen within "
                            + timeout.toSeconds() + " s" + logTail());
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new PagerException("interrupted while waiting for the pager to start");
                }
            }
        }

        /** Whether {@code pid} is the started process or a child of it (a supervisor's pager). */
        boolean isPagerProcess(long pid) {
            return pid == process.pid() || ProcessHandle.of(pid).flatMap(ProcessHandle::parent)
                    .map(parent -> parent.pid() == process.pid()).orElse(false);
        }

        /** The end of the pager's output, for an error message. */
        String logTail() {
            try {
                List<String> lines = java.nio.file.Files.readAllLines(directory.resolve("pager.log"));
                return "; its last output:\n  " + String.join("\n  ", lines.subList(Math.max(0, lines.size() - 12), lines.size()));
            } catch (java.io.IOException | RuntimeException e) {
                return "";
            }
        }

        /** Stops it (SIGTERM: a supervisor stops its pager), waits, and removes the directory. */
        void stop() {
            List<ProcessHandle> pagers = process.descendants().toList();
            process.destroy();
            try {
                if (!process.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
                    LOG.log(System.Logger.Level.WARNING, "uffd4j: the pager this JVM started did not stop within 15 s: killing it");
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
            pagers.forEach(h -> {
                try {
                    h.onExit().get(5, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception stillThere) {
                    h.destroyForcibly();
                }
            });
            PagerLaunch.removeDirectory(directory);
        }
    }

    /** One mapped region: its memory, safe for plain Java access while the pager serves it. Thread safe. */
    public static final class Region implements AutoCloseable {
        private final PagedMemory owner;
        private final String name;
        private final Mapping mapping;
        private final SharedMemory shared;
        private final boolean writeProtectable;
        private volatile PagedSnapshot latest;

        private Region(PagedMemory owner, String name, Mapping mapping, SharedMemory shared, boolean writeProtectable) {
            this.owner = owner;
            this.name = name;
            this.mapping = mapping;
            this.shared = shared;
            this.writeProtectable = writeProtectable;
        }

        /**
         * Takes a point-in-time snapshot of this region into {@code file}, saved by the pager
         * while this JVM's threads go on writing it, with plain Java stores too: calls {@code
         * writers.pause()}, has the pager note the pages present and write-protect them, calls
         * {@code writers.resume()} and returns (a few milliseconds per GiB). The pager then writes
         * every page to the file in the background; a write to a page it has not saved yet waits
         * while the pager copies the page's old contents (microseconds). Pages never loaded are
         * saved as the source gives them. The file holds the region exactly as it was at the
         * instant; {@link io.github.uffd4j.snapshot.SnapshotFile} restores it, and the URI
         * {@code snapshot:/path} serves it lazily through a pager.
         *
         * <p>The pager process writes the file (a file already there is replaced once the new one
         * is whole): it must be allowed to create it, and it does so only for an app of its own
         * uid (a pager serving several users refuses: it would write with rights they may lack;
         * {@link PagedMemory#launch()} starts one as this user). Do not {@link #discard} pages while a
         * snapshot runs (refused here; pages zapped by an {@code madvise} of your own make the
         * snapshot fail with a {@link io.github.uffd4j.snapshot.SnapshotException} saying so,
         * never hold other bytes). One snapshot of a region at a time. Needs
         * write protection for this kind of memory (Linux 5.7 for anonymous, 5.19 for shared
         * memory and hugetlb).
         *
         * @param file    where the snapshot is written; relative paths are resolved here
         * @param writers holds the writers still while the region is write-protected
         * @return the snapshot, being written by the pager
         * @throws PagerException        if the pager refuses (it cannot create the file, a snapshot of
         *                               this region still runs) or no pager serves this memory now
         * @throws IllegalStateException if this region cannot be write-protected on this kernel
         */
        public PagedSnapshot snapshot(Path file, io.github.uffd4j.snapshot.Quiesce writers) {
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(writers, "writers");
            owner.ensureOpen();
            if (!writeProtectable) {
                throw new IllegalStateException("snapshot: " + this + " could not be registered for write protection (this kernel's"
                        + " userfaultfd lacks " + (shared != null || mapping.pageSize() != Memory.pageSize() ? "WP_HUGETLBFS_SHMEM, Linux 5.19+"
                        : "PAGEFAULT_FLAG_WP, Linux 5.7+") + ")");
            }
            String path = file.toAbsolutePath().toString();
            writers.pause();
            PagerProtocol.Message answer;
            try {
                answer = owner.request(new PagerProtocol.Snapshot(mapping.address(), path));
            } finally {
                writers.resume();
            }
            if (!(answer instanceof PagerProtocol.SnapshotReply reply)) {
                throw new PagerException("the pager answered SNAPSHOT with something else (a pager of an older uffd4j?)");
            }
            PagedSnapshot s = new PagedSnapshot(this, Path.of(path), reply);
            latest = s;
            return s;
        }

        /** SNAPSHOT_STATUS for this region's latest snapshot. */
        PagerProtocol.SnapshotReply snapshotStatus() {
            if (owner.request(new PagerProtocol.SnapshotStatus(mapping.address())) instanceof PagerProtocol.SnapshotReply r) {
                return r;
            }
            throw new PagerException("the pager answered SNAPSHOT_STATUS with something else (a pager of an older uffd4j?)");
        }

        /**
         * The memory: read and write it with plain Java code. Unmapped once the region is closed.
         *
         * @return the memory
         */
        public MemorySegment segment() {
            return mapping.segment();
        }

        /**
         * The name given at {@link PagedMemory#map}.
         *
         * @return the name
         */
        public String name() {
            return name;
        }

        /**
         * Drops the pages of {@code [offset, offset + length)} (page aligned): {@code
         * madvise(MADV_DONTNEED)}. The pager hears of it (a REMOVE event) before this returns,
         * and the next touch of each page loads it from the source again: what was written there
         * is gone. Frees the memory of data that can be read again.
         *
         * @param offset the first byte, page aligned
         * @param length the length in bytes, whole pages
         */
        public void discard(long offset, long length) {
            PagedSnapshot s = latest;
            if (s != null && !s.isDone()) {
                throw new IllegalStateException("discard: a snapshot of " + this + " into " + s.file() + " is being written; its"
                        + " pages must stay until it is done (PagedSnapshot.await)");
            }
            mapping.dontNeed(offset, length);
        }

        /** Has the pager stop serving it, then unmaps it. Idempotent. */
        @Override
        public void close() {
            owner.remove(this);
        }

        @Override
        public String toString() {
            return "PagedMemory.Region[" + name + " 0x" + Long.toHexString(mapping.address()) + " +" + mapping.byteSize() + "]";
        }
    }
}
