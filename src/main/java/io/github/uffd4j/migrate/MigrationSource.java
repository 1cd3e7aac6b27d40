package io.github.uffd4j.migrate;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PageRegion;
import io.github.uffd4j.PagemapScanner;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.internal.WriteProtection;
import io.github.uffd4j.source.Compression;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static io.github.uffd4j.migrate.MigrationProtocol.*;

/**
 * The sending side of a postcopy migration: moves the contents of memory of this process to a
 * {@link MigrationTarget} in another JVM (on this machine or another) while the application keeps
 * writing it, with a pause of milliseconds.
 *
 * <ol>
 *   <li><b>Precopy</b>: every page is sent while the writers run (pages of zeros as a marker);
 *   writes are tracked meanwhile (userfaultfd WP_ASYNC and PAGEMAP_SCAN: plain Java writers are
 *   fine, nothing faults), and each further round sends the pages written since the last one,
 *   up to {@link Options#maxRounds} rounds or until a round finds at most
 *   {@link Options#switchAt} pages written.</li>
 *   <li><b>Switchover</b>: {@link Writers#stop()} holds the writers still; the last pages written
 *   are named to the target, which drops its stale copies of them, registers its memory and
 *   runs. The downtime is from {@code stop()} until the target says it runs.</li>
 *   <li><b>Postcopy</b>: the named pages are pushed in the background on one connection while
 *   the target's requests for pages it faults on are answered first on another; it ends when the
 *   target confirms every page arrived.</li>
 * </ol>
 *
 * <p><b>Failure.</b> Before the switchover frame is sent, a failure leaves everything here as it
 * was: the writers are {@linkplain Writers#resume() resumed} (if they were stopped) and nothing
 * is lost. After it, the target may be running on the memory: the writers are never resumed, this
 * copy is kept untouched (the caller may try again), and the target fails its missing pages
 * (readers there get errors, never zeros).
 *
 * <p><b>Page size.</b> Pages travel in the page size given to
 * {@link #migrate(MemorySegment, long, InetSocketAddress, Writers, Options)} (the system's page
 * size by default). Hugetlb memory is migrated in its huge page size: a target with hugetlb
 * memory ({@link MigrationTarget.Backing#hugetlb}) accepts only a source sending pages of its huge
 * page size, and a target in base pages accepts only base pages (each side checks the other's
 * hello before anything is sent or mapped).
 *
 * <p>Needs Linux 6.7+ (WP_ASYNC, WP_UNPOPULATED, PAGEMAP_SCAN; for shared or hugetlb memory also
 * WP_HUGETLBFS_SHMEM); the memory must be anonymous, shared (memfd/shmem) or hugetlb memory of
 * this process, not registered with another userfaultfd.
 */
public final class MigrationSource {

    /** How the application holds its writers still at the switchover. */
    public interface Writers {

        /** Returns once no write is under way and none will start. */
        void stop();

        /** Lets the writers go on: called only when the migration failed before the switchover. */
        void resume();

        /**
         * Writers that hold {@code lock}'s read lock around each write: stopping takes its write
         * lock (on the migrating thread, which also resumes after a failure). After a successful
         * migration the lock stays held: the memory belongs to the target from then on.
         *
         * @param lock the lock the writers share
         * @return writers stopped and resumed through it
         */
        static Writers of(java.util.concurrent.locks.ReadWriteLock lock) {
            java.util.Objects.requireNonNull(lock, "lock");
            return new Writers() {
                @Override
                public void stop() {
                    lock.writeLock().lock();
                }

                @Override
                public void resume() {
                    lock.writeLock().unlock();
                }
            };
        }
    }

    /**
     * Settings.
     *
     * @param maxRounds precopy rounds after the first full pass, at most
     * @param switchAt  switch over as soon as a round finds at most this many pages written (pages of
     *                  the migration's page size: the default 256 is 1 MiB of base pages, but 512 MiB
     *                  of 2 MiB hugetlb pages)
     * @param timeout   for connecting, and for each answer of the target
     * @param progress told of each step, on the migrating thread (the pages pushed so far: on
     *                 the push's thread)
     * @param compression how the pages of the precopy and the push are compressed on the wire
     *                    ({@link Compression#NONE}, the default; ZSTD and LZ4 need the optional
     *                    dependency {@code io.airlift:aircompressor-v3} on both sides). A page
     *                    that does not get shorter goes as it is; pages the target asks for go
     *                    uncompressed, so that no fault waits for a codec.
     * @param pushPriority how the postcopy push gives way to the pages the target asks for
     *                     ({@link PushPriority#LOW}, the default)
     */
    public record Options(int maxRounds, long switchAt, Duration timeout, java.util.function.Consumer<Progress> progress,
                          Compression compression, PushPriority pushPriority) {

        /** 5 rounds, switch at 256 pages, 60 s, no progress reports, no compression, the push {@link PushPriority#LOW}. */
        public static final Options DEFAULT = new Options(5, 256, Duration.ofSeconds(60), p -> { });

        /** Checks that the limits are not negative and nothing is null. */
        public Options {
            if (maxRounds < 0 || switchAt < 0) {
                throw new IllegalArgumentException("maxRounds and switchAt must not be negative: " + maxRounds + ", " + switchAt);
            }
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(progress, "progress");
            Objects.requireNonNull(compression, "compression");
            Objects.requireNonNull(pushPriority, "pushPriority");
        }

        /**
         * Settings without compression, the push {@link PushPriority#LOW}.
         *
         * @param maxRounds precopy rounds after the first full pass, at most
         * @param switchAt  switch over once a round finds at most this many pages written
         * @param timeout   for connecting, and for each answer of the target
         * @param progress  told of each step, on the migrating thread
         */
        public Options(int maxRounds, long switchAt, Duration timeout, java.util.function.Consumer<Progress> progress) {
            this(maxRounds, switchAt, timeout, progress, Compression.NONE, PushPriority.LOW);
        }

        /**
         * Settings with the push {@link PushPriority#LOW}.
         *
         * @param maxRounds   precopy rounds after the first full pass, at most
         * @param switchAt    switch over once a round finds at most this many pages written
         * @param timeout     for connecting, and for each answer of the target
         * @param progress    told of each step
         * @param compression how the precopy's and the push's pages are compressed
         */
        public Options(int maxRounds, long switchAt, Duration timeout, java.util.function.Consumer<Progress> progress,
                       Compression compression) {
            this(maxRounds, switchAt, timeout, progress, compression, PushPriority.LOW);
        }

        /**
         * These options with the precopy's and the push's pages compressed.
         *
         * @param compression the codec, or {@link Compression#NONE}
         * @return the new options
         */
        public Options withCompression(Compression compression) {
            return new Options(maxRounds, switchAt, timeout, progress, compression, pushPriority);
        }

        /**
         * These options with {@code listener} told of each step (on the migrating thread: keep it short).
         *
         * @param listener receives each step
         * @return the new options
         */
        public Options withProgress(java.util.function.Consumer<Progress> listener) {
            return new Options(maxRounds, switchAt, timeout, listener, compression, pushPriority);
        }

        /**
         * These options with other round limits.
         *
         * @param maxRounds precopy rounds after the first full pass, at most
         * @param switchAt switch over once a round finds at most this many pages written
         * @return the new options
         */
        public Options withRounds(int maxRounds, long switchAt) {
            return new Options(maxRounds, switchAt, timeout, progress, compression, pushPriority);
        }

        /**
         * These options with the postcopy push at {@code priority} on this side.
         *
         * @param priority how the push gives way to the pages the target asks for
         * @return the new options
         */
        public Options withPushPriority(PushPriority priority) {
            return new Options(maxRounds, switchAt, timeout, progress, compression, priority);
        }
    }

    /** The steps a migration reports to {@link Options#progress}. */
    public enum Step {
        /** A precopy round was sent ({@link Progress#pages}: its pages; round 0 is every page). */
        ROUND,
        /** The target runs ({@link Progress#pages}: the pages left for postcopy). */
        SWITCHED,
        /** Postcopy progress ({@link Progress#pages}: pushed so far); reported every 16384 pages. */
        PUSHED,
        /** The target has every page. */
        DONE
    }

    /**
     * One progress report.
     *
     * @param step      what happened
     * @param round     the precopy round (for {@link Step#ROUND})
     * @param pages     see {@link Step}
     * @param pulled    pages the target asked for so far
     * @param bytesSent so far, both connections
     * @param elapsed   since the migration started
     */
    public record Progress(Step step, int round, long pages, long pulled, long bytesSent, Duration elapsed) {
    }

    /**
     * What a migration did.
     *
     * @param pagesPerRound pages sent in each precopy round (the first is every page), then the
     *                      pages left for postcopy
     * @param downtime      from {@link Writers#stop()} until the target ran
     * @param pagesPushed   postcopy pages pushed in the background
     * @param pagesPulled   pages the target asked for (faults)
     * @param bytesSent     on both connections
     * @param total         the whole migration
     */
    public record Report(List<Long> pagesPerRound, Duration downtime, long pagesPushed, long pagesPulled,
                         long bytesSent, Duration total) {
    }

    private final MemorySegment memory;
    private final int pageSize;
    private final long pages;
    private final Options options;
    /** Pages onto the bulk connection (the precopy, then the push: one thread at a time). */
    private final PageWriter bulkPages;
    /** The pages of the next PAGES frame on the bulk connection (its one writer's). */
    private final int[] batch = new int[MAX_BATCH];
    /** Pages onto the urgent connection: never compressed. */
    private final PageWriter urgentPages;
    private final BitSet sent = new BitSet();
    private final AtomicLong pulled = new AtomicLong();
    private final CountDownLatch switched = new CountDownLatch(1);
    private final CountDownLatch done = new CountDownLatch(1);
    private final AtomicReference<Throwable> urgentFailure = new AtomicReference<>();
    private DataOutputStream bulkOut;
    private CountingStream counted;
    private CountingStream countedUrgent;
    private long startedAt;
    private DataOutputStream urgentOut;
    private DataInputStream urgentIn;
    /** The target's reason when it refused the migration (it never ran). */
    private volatile String refused;

    private MigrationSource(MemorySegment memory, long pageSize, Options options) throws MigrationException {
        this.memory = memory;
        this.pageSize = (int) pageSize;
        this.pages = memory.byteSize() / pageSize;
        this.options = options;
        this.bulkPages = new PageWriter(this.pageSize, options.compression());
        this.urgentPages = new PageWriter(this.pageSize, Compression.NONE);
    }

    /**
     * {@link #migrate(MemorySegment, InetSocketAddress, Writers, Options)} with {@link Options#DEFAULT}.
     *
     * @param memory the memory to migrate: off-heap, page aligned
     * @param target where the {@link MigrationTarget} listens
     * @param writers holds the application's writers still for the switchover
     * @return what the migration did
     * @throws MigrationException the connection failed or the target misbehaved
     */
    public static Report migrate(MemorySegment memory, InetSocketAddress target, Writers writers) throws MigrationException {
        return migrate(memory, target, writers, Options.DEFAULT);
    }

    /**
     * Migrates {@code memory} in pages of the system's page size to the {@link MigrationTarget}
     * listening at {@code target}; returns once the target has every page. See the class comment
     * for what a failure leaves behind.
     *
     * @param memory the memory to migrate: off-heap, page aligned
     * @param target where the {@link MigrationTarget} listens
     * @param writers holds the application's writers still for the switchover
     * @param options rounds, switchover threshold, timeout, progress
     * @return what the migration did
     * @throws MigrationException the connection failed or the target misbehaved; the message says
     *                            whether it happened before the switchover
     */
    public static Report migrate(MemorySegment memory, InetSocketAddress target, Writers writers, Options options)
            throws MigrationException {
        return migrate(memory, Memory.pageSize(), target, writers, options);
    }

    /**
     * Migrates {@code memory} in pages of {@code pageSize} bytes: the huge page size for hugetlb
     * memory (written pages are tracked and sent whole huge pages at a time), and what a hugetlb
     * target needs (see the class comment). Otherwise as
     * {@link #migrate(MemorySegment, InetSocketAddress, Writers, Options)}.
     *
     * @param memory the memory to migrate: off-heap, aligned to {@code pageSize}
     * @param pageSize the page size to send in: a power of two from the system's page size, the
     *                 huge page size (or a multiple of the base page size) for hugetlb memory
     * @param target where the {@link MigrationTarget} listens
     * @param writers holds the application's writers still for the switchover
     * @param options rounds, switchover threshold, timeout, progress
     * @return what the migration did
     * @throws MigrationException the connection failed or the target misbehaved (or refused the
     *                            page size); the message says whether it happened before the switchover
     */
    public static Report migrate(MemorySegment memory, long pageSize, InetSocketAddress target, Writers writers,
                                 Options options) throws MigrationException {
        WriteProtection.checkMemory("migrate", memory, pageSize);
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(writers, "writers");
        Objects.requireNonNull(options, "options");
        if (memory.byteSize() / pageSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("migrate: at most 2^31 pages, not " + memory.byteSize() / pageSize);
        }
        return new MigrationSource(memory, pageSize, options).run(target, writers);
    }

    private Report run(InetSocketAddress target, Writers writers) throws MigrationException {
        startedAt = System.nanoTime();
        boolean stopped = false;
        boolean switchoverSent = false;
        Thread urgentThread = null;
        ThreadPoolExecutor pushThread = pushThread(options.pushPriority());
        try (Userfaultfd uffd = WriteProtection.register("migrate", memory, List.of(Feature.WP_ASYNC, Feature.WP_UNPOPULATED));
             PagemapScanner pagemap = PagemapScanner.open();
             Socket bulk = connect(target);
             Socket urgent = connect(target)) {
            uffd.writeProtect(memory.address(), memory.byteSize(), true, 0); // every page clean: writes mark them
            urgent.setTcpNoDelay(true);
            counted = new CountingStream(bulk.getOutputStream());
            countedUrgent = new CountingStream(urgent.getOutputStream());
            bulkOut = new DataOutputStream(new BufferedOutputStream(counted, 1 << 16));
            urgentOut = new DataOutputStream(new BufferedOutputStream(countedUrgent, 1 << 13));
            urgentIn = new DataInputStream(new BufferedInputStream(urgent.getInputStream()));
            long session = ThreadLocalRandom.current().nextLong();
            writeHello(bulkOut, new Hello(BULK, session, pageSize, memory.byteSize(), options.compression()));
            writeHello(urgentOut, new Hello(URGENT, session, pageSize, memory.byteSize(), Compression.NONE));

            try {
                List<Long> rounds = new ArrayList<>();
                pagemap.collectWritten(memory); // from here on writes are marked; the first pass may be fuzzy, rounds mend it
                BitSet all = new BitSet();
                all.set(0, (int) pages);
                sendPages(all);
                rounds.add(pages);
                report(Step.ROUND, 0, pages);
                for (int r = 0; r < options.maxRounds(); r++) {
                    BitSet written = written(pagemap.collectWritten(memory));
                    sendPages(written);
                    rounds.add((long) written.cardinality());
                    report(Step.ROUND, r + 1, written.cardinality());
                    if (written.cardinality() <= options.switchAt()) {
                        break;
                    }
                }
                bulkOut.flush();

                long stopAt = System.nanoTime();
                writers.stop();
                stopped = true;
                BitSet left = written(pagemap.collectWritten(memory));
                rounds.add((long) left.cardinality());
                urgentThread = Thread.ofPlatform().daemon().name("uffd4j-migrate-urgent").start(this::serveRequests);
                bulkOut.writeByte(SWITCHOVER);
                writeBitSet(bulkOut, left, pages);
                switchoverSent = true;
                bulkOut.flush();
                awaitTarget(switched, "run after the switchover");
                Duration downtime = Duration.ofNanos(System.nanoTime() - stopAt);
                report(Step.SWITCHED, 0, left.cardinality());

                long pushed = pushInBackground(pushThread, left);
                bulkOut.writeByte(END);
                bulkOut.flush();
                awaitTarget(done, "confirm every page arrived");
                report(Step.DONE, 0, pushed);
                return new Report(List.copyOf(rounds), downtime, pushed, pulled.get(), counted.count() + countedUrgent.count(),
                        Duration.ofNanos(System.nanoTime() - startedAt));
            } catch (IOException | RuntimeException e) {
                String why = refused != null || urgentThread != null ? refused : refusal(urgent); // one reader at a time
                if (why != null && !String.valueOf(e.getMessage()).contains(why)) {
                    refused = why;
                    throw new MigrationException("the target refused the migration: " + why, e);
                }
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            boolean targetRan = switchoverSent && refused == null; // a refusal came before the target read the switchover
            if (stopped && !targetRan) {
                writers.resume();
            }
            String where = targetRan
                    ? "after the switchover: the target may be running on the memory, so the writers here stay stopped and "
                    + "this copy is kept as it is; the target fails the pages it did not get"
                    : "before the switchover: nothing was lost, the memory stays here" + (stopped ? " and the writers were resumed" : "");
            Throwable cause = urgentFailure.get() != null && !(e instanceof MigrationException) ? urgentFailure.get() : e;
            throw new MigrationException("migration to " + target + " failed " + where + ": " + cause.getMessage(), cause);
        } finally {
            pushThread.shutdownNow();
            if (urgentThread != null) {
                urgentThread.interrupt();
            }
        }
    }

    /**
     * The reason of a REFUSED frame the target sent on the urgent connection before closing it
     * (waiting at most a second for it), or null: nothing is read there before the switchover
     * otherwise.
     */
    private String refusal(Socket urgent) {
        try {
            urgent.setSoTimeout(1000);
            return urgentIn.read() == REFUSED ? urgentIn.readUTF() : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private Socket connect(InetSocketAddress target) throws IOException {
        Socket s = new Socket();
        try {
            s.connect(target, (int) Math.min(Integer.MAX_VALUE, options.timeout().toMillis()));
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, options.timeout().toMillis()));
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    private void report(Step step, int round, long n) {
        options.progress().accept(new Progress(step, round, n, pulled.get(), counted.count() + countedUrgent.count(),
                Duration.ofNanos(System.nanoTime() - startedAt)));
    }

    /** The pages of the regions PAGEMAP_SCAN found written (a page partly written counts whole). */
    private BitSet written(List<PageRegion> regions) {
        BitSet set = new BitSet();
        for (PageRegion r : regions) {
            set.set((int) ((r.start() - memory.address()) / pageSize), (int) ((r.end() - memory.address() + pageSize - 1) / pageSize));
        }
        return set;
    }

    /** Sends the pages of {@code set} on the bulk connection, in frames of up to {@link MigrationProtocol#MAX_BATCH}. */
    private void sendPages(BitSet set) throws IOException {
        int n = 0;
        for (int p = set.nextSetBit(0); p >= 0; p = set.nextSetBit(p + 1)) {
            batch[n++] = p;
            if (n == MAX_BATCH) {
                sendBatch(n);
                n = 0;
            }
        }
        sendBatch(n);
    }

    /** One PAGES frame with the first {@code n} pages of {@link #batch} (none for 0). */
    private void sendBatch(int n) throws IOException {
        if (n == 0) {
            return;
        }
        bulkOut.writeByte(PAGES);
        bulkOut.writeInt(n);
        for (int i = 0; i < n; i++) {
            bulkPages.write(bulkOut, memory, batch[i]);
        }
    }

    /**
     * A thread for the push, started before the precopy at the options' {@link PushPriority}: setting
     * the priority links native calls and spins method handles, which done at the switchover took the
     * CPU from the first urgent pages (milliseconds, on 2 CPUs).
     */
    private static ThreadPoolExecutor pushThread(PushPriority priority) {
        ThreadPoolExecutor executor = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                task -> Thread.ofPlatform().daemon().name("uffd4j-migrate-push").unstarted(() -> {
                    priority.applyToCurrentThread();
                    task.run();
                }));
        executor.prestartCoreThread();
        return executor;
    }

    /** {@link #push} on the push thread (see {@link #pushThread}); the caller waits for it. */
    private long pushInBackground(ThreadPoolExecutor pushThread, BitSet left) throws IOException {
        Future<Long> task = pushThread.submit(() -> push(left));
        try {
            return task.get();
        } catch (InterruptedException e) {
            task.cancel(true); // the push stops instead of writing on while the caller tears the connections down
            Thread.currentThread().interrupt();
            throw new MigrationException("interrupted while pushing the postcopy pages", e);
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case IOException io -> throw io;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new MigrationException("the push failed: " + e.getCause(), e.getCause());
            }
        }
    }

    /** Pages per PAGES frame of the push: the push gives up its CPU after each (about 50 us of work; see {@link PushPriority}). */
    static final int PUSH_BATCH = 16;

    /** Pushes the pages left that no request took first; returns how many. */
    private long push(BitSet left) throws IOException {
        long pushed = 0;
        int n = 0;
        for (int p = left.nextSetBit(0); p >= 0; p = left.nextSetBit(p + 1)) {
            synchronized (sent) {
                if (sent.get(p)) {
                    continue;
                }
                sent.set(p);
            }
            batch[n++] = p;
            if (n == PUSH_BATCH) {
                sendBatch(n);
                pushed += n;
                n = 0;
                Thread.yield(); // a thread waiting for this CPU (an urgent page's) gets it now, not when the push's slice ends
                checkUrgent();
                if (pushed % 16384 == 0) {
                    report(Step.PUSHED, 0, pushed);
                }
            }
        }
        sendBatch(n);
        return pushed + n;
    }

    /** The urgent connection's thread: answers page requests at once, notes the target's acknowledgements. */
    private void serveRequests() {
        try {
            for (;;) {
                int type = readType(urgentIn, "waiting for the target's requests");
                switch (type) {
                    case REQUEST -> {
                        int p = readPageNumber(urgentIn, pages, "REQUEST");
                        synchronized (sent) {
                            sent.set(p);
                        }
                        urgentOut.writeByte(PAGE);
                        urgentPages.write(urgentOut, memory, p);
                        urgentOut.flush();
                        pulled.incrementAndGet();
                    }
                    case SWITCHED -> switched.countDown();
                    case REFUSED -> {
                        refused = urgentIn.readUTF();
                        throw new MigrationException("the target refused the migration: " + refused);
                    }
                    case DONE -> {
                        done.countDown();
                        return;
                    }
                    default -> throw new MigrationException("malformed frame from the target: type " + type);
                }
            }
        } catch (IOException | RuntimeException e) {
            urgentFailure.compareAndSet(null, e);
            switched.countDown();
            done.countDown();
        }
    }

    private void awaitTarget(CountDownLatch latch, String what) throws IOException {
        try {
            if (!latch.await(options.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new MigrationException("the target did not " + what + " within " + options.timeout());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException("interrupted while waiting for the target to " + what, e);
        }
        checkUrgent();
    }

    private void checkUrgent() throws MigrationException {
        Throwable t = urgentFailure.get();
        if (t != null) {
            throw new MigrationException("the urgent connection failed: " + t.getMessage(), t);
        }
    }

    /** Counts the bytes written to a socket. */
    private static final class CountingStream extends FilterOutputStream {
        private volatile long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        long count() {
            return count;
        }
    }
}
