package io.github.uffd4j.migrate;

import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.FaultStats;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.handler.Region;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Socket;
import java.time.Duration;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static io.github.uffd4j.migrate.MigrationProtocol.*;

/**
 * Memory a {@link MigrationTarget} received, live since the switchover: pages still on their way
 * arrive in the background, and a page touched first is asked for ahead of them. See
 * {@link MigrationTarget} for how this JVM may touch it before {@link #awaitComplete} returns.
 * {@link #close()} unmaps it. Thread safe.
 */
public final class MigratedMemory implements AutoCloseable {

    private final TargetMemory memory;
    private final int pageSize;
    /** How the bulk connection's pages are compressed (the source's hello). */
    private final io.github.uffd4j.source.Compression bulkCompression;
    private final FaultService service;
    private final Region region;
    private final Socket bulk;
    private final Socket urgent;
    private final DataInputStream bulkIn;
    private final DataInputStream urgentIn;
    private final DataOutputStream urgentOut;
    private final Duration timeout;
    private final PushPriority pushPriority;
    /** Pages named at the switchover that have not arrived; guarded by itself. */
    private final BitSet outstanding;
    /** Pages a fault waits for. */
    private final Map<Integer, CompletableFuture<byte[]>> waiters = new ConcurrentHashMap<>();
    /** Pages arrived without a waiter that could not be installed at once (a fault had them): the fault takes them. */
    private final Map<Integer, byte[]> arrived = new ConcurrentHashMap<>();
    private final CountDownLatch allArrived = new CountDownLatch(1);
    private final CountDownLatch complete = new CountDownLatch(1);
    /** Counted down when the migration completed or failed. */
    private final CountDownLatch ended = new CountDownLatch(1);
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong pushed = new AtomicLong();
    private final AtomicLong pulled = new AtomicLong();
    /** Faults waiting for pages they asked for: the push steps aside meanwhile. */
    private final AtomicInteger asking = new AtomicInteger();
    private volatile boolean closed;
    /** Every page arrived and DONE is being sent: the source closing its side is expected now. */
    private volatile boolean finishing;

    private MigratedMemory(String name, TargetMemory memory, FaultService service, Hello hello, BitSet written, BitSet stale,
                           Socket bulk, DataInputStream bulkIn, Socket urgent, MigrationTarget.Options options) throws IOException {
        this.memory = memory;
        this.pageSize = hello.pageSize();
        this.bulkCompression = hello.compression();
        this.bulk = bulk;
        this.bulkIn = bulkIn;
        this.urgent = urgent;
        this.urgentIn = new DataInputStream(new java.io.BufferedInputStream(urgent.getInputStream()));
        this.urgentOut = new DataOutputStream(new BufferedOutputStream(urgent.getOutputStream(), 1 << 13));
        this.timeout = options.timeout();
        this.pushPriority = options.pushPriority();
        this.outstanding = (BitSet) stale.clone();
        this.service = service;
        this.region = memory.region(service).name(name).presentPages(written).source(new Network()).register();
    }

    /** The service that will serve the memory: started before the precopy, so that the switchover does not wait for it. */
    static FaultService newService(int pageSize, MigrationTarget.Options options) {
        long readahead = pageSize < 1 << 16 ? 16L * pageSize : pageSize; // a fault waits for these: no 16 huge pages
        return FaultService.builder().threads(options.threads()).faultAround(pageSize).maxReadahead(readahead)
                .poisonUnloadedOnClose(false).start();
    }

    /**
     * Registers the memory with {@code service} (the caller closes it if this throws), tells the
     * source, starts the receivers; {@code name} names the region and the receivers' threads.
     */
    static MigratedMemory start(String name, TargetMemory memory, FaultService service, Hello hello, BitSet written, BitSet stale,
                                Socket bulk, DataInputStream bulkIn, Socket urgent, MigrationTarget.Options options) throws IOException {
        MigratedMemory m = new MigratedMemory(name, memory, service, hello, written, stale, bulk, bulkIn, urgent, options);
        try {
            synchronized (m.urgentOut) {
                m.urgentOut.writeByte(SWITCHED);
                m.urgentOut.flush();
            }
            if (stale.isEmpty()) {
                m.allArrived.countDown();
            }
            Thread.ofPlatform().daemon().name("uffd4j-" + name + "-urgent").start(m::readUrgent);
            Thread.ofPlatform().daemon().name("uffd4j-" + name + "-push").start(m::readPush);
            return m;
        } catch (IOException | RuntimeException e) {
            m.service.close();
            throw e;
        }
    }

    /**
     * The memory: for native code and system calls at any time, for plain Java once complete or after
     * {@link #load}. For shared memory this is the view of the {@link #sharedMemory}.
     *
     * @return the memory
     */
    public MemorySegment segment() {
        return memory.segment();
    }

    /**
     * Size in bytes.
     *
     * @return the size in bytes
     */
    public long byteSize() {
        return memory.segment().byteSize();
    }

    /**
     * The page size of the memory (the huge page size for hugetlb), which the source sent in.
     *
     * @return the page size in bytes
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * What the memory is ({@link MigrationTarget.Options#backing}).
     *
     * @return the backing
     */
    public MigrationTarget.Backing backing() {
        return memory.backing();
    }

    /**
     * The shared memory (its memfd, view and alias) for a {@linkplain MigrationTarget.Backing#isShared
     * shared} backing, so that another process can map the memfd; empty otherwise. Until
     * {@link #awaitComplete} returned, pages not arrived yet are holes in the file (another
     * mapping of it reads zeros there, and a write there would be overwritten by the page when it
     * arrives): hand the descriptor out only once complete. Closed by {@link #close()}; a mapping
     * made from the descriptor stays valid after that.
     *
     * @return the shared memory, or empty
     */
    public Optional<SharedMemory> sharedMemory() {
        return memory.shared();
    }

    /**
     * The region serving the memory until it is complete (page states, counters).
     *
     * @return the region
     */
    public Region region() {
        return region;
    }

    /**
     * Faults {@code [offset, offset + length)} in from native code (pages not arrived are asked
     * for first); afterwards plain Java access to it is safe.
     *
     * @param offset the first byte
     * @param length the length in bytes
     * @throws io.github.uffd4j.handler.PageLoadException a page could not be had (the source went away)
     */
    public void load(long offset, long length) {
        if (isComplete()) {
            return;
        }
        try {
            region.load(offset, length);
        } catch (RuntimeException e) {
            if (!finishing) {
                throw e;
            }
            // every page arrived and the region is being let go: the memory is whole, plain memory in a moment
            try {
                complete.await();
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                throw e;
            }
        }
    }

    /**
     * Whether every page arrived (then the memory is plain memory).
     *
     * @return true once every page arrived
     */
    public boolean isComplete() {
        return complete.getCount() == 0;
    }

    /**
     * Waits until every page arrived and the memory is plain memory; false on timeout.
     *
     * @param timeout the longest wait
     * @return true once every page arrived, false on timeout
     * @throws InterruptedException when the waiting thread is interrupted
     * @throws MigrationException the source went away before every page arrived
     */
    public boolean awaitComplete(Duration timeout) throws MigrationException, InterruptedException {
        ended.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        boolean done = isComplete();
        Throwable t = failure.get();
        if (t != null) {
            throw new MigrationException("the migration failed after the switchover: the pages that did not arrive fail "
                    + "when touched: " + t.getMessage(), t);
        }
        return done;
    }

    /**
     * Why the migration failed after the switchover, if it did.
     *
     * @return the failure, or empty
     */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    /**
     * Pages installed from the background push.
     *
     * @return the pages pushed
     */
    public long pagesPushed() {
        return pushed.get();
    }

    /**
     * Pages asked for because a fault needed them.
     *
     * @return the pages pulled
     */
    public long pagesPulled() {
        return pulled.get();
    }

    /**
     * The counters of the fault service (fault latency included).
     *
     * @return a snapshot of the counters
     */
    public FaultStats stats() {
        return service.stats();
    }

    /** Stops the transfer if it still runs, the fault service, and unmaps the memory. */
    @Override
    public void close() {
        closed = true;
        MigrationTarget.closeQuietly(bulk);
        MigrationTarget.closeQuietly(urgent);
        service.close();
        memory.close();
    }

    // ---- receiving ---------------------------------------------------------------------------

    private void readPush() {
        pushPriority.applyToCurrentThread(); // the faults' pages (the urgent connection) are installed first
        byte[] buf = new byte[pageSize];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(pageSize, pageSize);
            for (;;) {
                int type = readType(bulkIn, "receiving the postcopy push");
                if (type == END) {
                    break;
                }
                if (type != PAGES) {
                    throw new MigrationException("malformed frame in the postcopy push: type " + type);
                }
                int n = readBatchCount(bulkIn);
                Thread.yield(); // a thread waiting for this CPU (an urgent page's) gets it now (see PushPriority)
                for (int i = 0; i < n; i++) {
                    yieldToUrgent();
                    int p = readPageNumber(bulkIn, region.pageCount(), "PAGES");
                    boolean zeros = readPageData(bulkIn, buf, "PAGES", bulkCompression);
                    Arrival a = arrive(p, zeros ? null : buf, page);
                    if (a != Arrival.DUPLICATE) {
                        pushed.incrementAndGet();
                    }
                    if (a == Arrival.KEPT) {
                        buf = new byte[pageSize]; // a fault or the arrived map holds that one now
                    }
                }
            }
            if (!allArrived.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new MigrationException("the push ended but pages asked for did not arrive within " + timeout);
            }
            finish();
        } catch (Throwable t) {
            fail(t);
        }
    }

    /**
     * Holds the push (up to 2 ms at a time, so that it always moves) while a fault waits for a page
     * asked for: the push's receiving and installing, and the source's sending behind the socket
     * buffer that then fills, leave the CPU to the urgent page. On 2 cores a push running flat out
     * took the urgent faults' p99 from about 1 ms to 3-5 ms.
     */
    private void yieldToUrgent() {
        long until = 0;
        while (asking.get() > 0) {
            long now = System.nanoTime();
            if (until == 0) {
                until = now + 2_000_000;
            } else if (now > until) {
                return;
            }
            LockSupport.parkNanos(20_000);
        }
    }

    private void readUrgent() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(pageSize, pageSize);
            byte[] buf = new byte[pageSize];
            for (;;) {
                int type = readType(urgentIn, "waiting for requested pages");
                if (type != PAGE) {
                    throw new MigrationException("malformed frame on the urgent connection: type " + type);
                }
                int p = readPageNumber(urgentIn, region.pageCount(), "PAGE");
                boolean zeros = readPageData(urgentIn, buf, "PAGE", io.github.uffd4j.source.Compression.NONE);
                if (arrive(p, zeros ? null : buf, page) == Arrival.KEPT) {
                    buf = new byte[pageSize];
                }
            }
        } catch (Throwable t) {
            if (!finishing) {
                fail(t);
            }
        }
    }

    /**
     * Page {@code p} arrived ({@code data} null for zeros): to the fault waiting for it, else
     * installed, else (a fault has it in hand) kept for that fault. Says whether {@code data} is
     * still the caller's to reuse.
     */
    private Arrival arrive(int p, byte[] data, MemorySegment scratch) {
        CompletableFuture<byte[]> waiter;
        synchronized (outstanding) {
            if (!outstanding.get(p)) {
                return Arrival.DUPLICATE; // pushed and asked for both: the second copy is the same
            }
            outstanding.clear(p);
            waiter = waiters.remove(p);
            if (waiter == null && data != null) {
                arrived.put(p, data);
            }
            if (outstanding.isEmpty()) {
                allArrived.countDown();
            }
        }
        if (waiter != null) {
            waiter.complete(data);
            return data != null ? Arrival.KEPT : Arrival.INSTALLED;
        } else if (data != null) {
            MemorySegment.copy(data, 0, scratch, ValueLayout.JAVA_BYTE, 0, pageSize);
            if (region.supply((long) p * pageSize, scratch) > 0 || region.isPresent((long) p * pageSize)) {
                // removed by us: the buffer is free again; null: a fault took it from the map meanwhile
                return arrived.remove(p) == data ? Arrival.INSTALLED : Arrival.KEPT;
            }
            return Arrival.KEPT;
        }
        return Arrival.INSTALLED;
    }

    /**
     * What became of an arriving page and its buffer: a duplicate (the buffer is free), installed
     * or given to nobody else (free), or kept by a waiting fault or the arrived map (the caller must
     * take a new buffer: no page buffer is allocated per page on the push's common path, whose
     * garbage, gigabytes of it, set off GC pauses that the urgent faults' latency showed).
     */
    private enum Arrival { DUPLICATE, INSTALLED, KEPT }

    /** Every page arrived: the ones a fault had in hand are loaded, the source is told, the memory becomes plain. */
    private void finish() throws IOException {
        for (Integer p : arrived.keySet()) {
            region.load((long) p * pageSize, pageSize);
        }
        finishing = true;
        synchronized (urgentOut) {
            urgentOut.writeByte(DONE);
            urgentOut.flush();
        }
        service.close(); // unregisters; the pages never written read as zeros, as they were at the source
        complete.countDown();
        ended.countDown();
        MigrationTarget.closeQuietly(bulk);
        MigrationTarget.closeQuietly(urgent);
    }

    private void fail(Throwable t) {
        if (closed) {
            return;
        }
        java.util.List<CompletableFuture<byte[]>> waiting;
        synchronized (outstanding) { // no fill can add a waiter after this: it sees the failure first
            failure.compareAndSet(null, t);
            waiting = java.util.List.copyOf(waiters.values());
            waiters.clear();
        }
        for (CompletableFuture<byte[]> w : waiting) {
            w.completeExceptionally(t);
        }
        ended.countDown();
        MigrationTarget.closeQuietly(bulk);
        MigrationTarget.closeQuietly(urgent);
    }

    /**
     * Waits for {@code page} by spinning until {@code end} at most ({@link #SPIN_NANOS} after the
     * fill began to wait, for all its pages together; an answer on loopback takes
     * 20-100 us): a thread that parks at once must be woken, and waking a thread on an idle CPU can
     * take tens of microseconds (a halted virtual CPU); on a 2-CPU VM spinning took urgent faults'
     * p50 from about 120 to 40-70 us.
     */
    private static void spinUntilDone(CompletableFuture<byte[]> page, long end) {
        while (!page.isDone() && System.nanoTime() < end) {
            Thread.onSpinWait();
        }
    }

    /** How long a fault spins for the page it asked for before it parks. */
    private static final long SPIN_NANOS = 100_000;

    /** The page source of the region: pages named at the switchover come from the source, the others are zeros. */
    private final class Network implements PageSource {
        @Override
        public void fill(long offset, MemorySegment dst) throws IOException {
            int first = (int) (offset / pageSize);
            int n = (int) (dst.byteSize() / pageSize);
            @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type: made raw, used typed
            CompletableFuture<byte[]>[] wait = new CompletableFuture[n];
            for (int i = 0; i < n; i++) {
                int p = first + i;
                byte[] ready = null;
                boolean ask = false;
                synchronized (outstanding) {
                    Throwable gone = failure.get();
                    if (gone != null && outstanding.get(p)) {
                        throw new IOException("page " + p + " did not arrive: the migration source is gone: " + gone.getMessage(), gone);
                    }
                    if (outstanding.get(p)) {
                        wait[i] = waiters.get(p);
                        if (wait[i] == null) {
                            wait[i] = new CompletableFuture<>();
                            waiters.put(p, wait[i]);
                            ask = true;
                        }
                    } else {
                        ready = arrived.remove(p);
                    }
                }
                if (ready != null) {
                    MemorySegment.copy(ready, 0, dst, ValueLayout.JAVA_BYTE, (long) i * pageSize, pageSize);
                }
                if (ask) {
                    synchronized (urgentOut) {
                        urgentOut.writeByte(REQUEST);
                        urgentOut.writeInt(p);
                        urgentOut.flush();
                    }
                    pulled.incrementAndGet();
                }
            }
            boolean waiting = false;
            for (CompletableFuture<byte[]> w : wait) {
                waiting |= w != null;
            }
            if (waiting) {
                asking.incrementAndGet(); // the push steps aside while a fault waits (yieldToUrgent)
            }
            long spinUntil = System.nanoTime() + SPIN_NANOS; // one budget for the whole fill
            try {
                for (int i = 0; i < n; i++) {
                    if (wait[i] == null) {
                        continue;
                    }
                    try {
                        spinUntilDone(wait[i], spinUntil);
                        byte[] data = wait[i].get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                        if (data != null) {
                            MemorySegment.copy(data, 0, dst, ValueLayout.JAVA_BYTE, (long) i * pageSize, pageSize);
                        }
                    } catch (ExecutionException e) {
                        throw new IOException("page " + (first + i) + " did not arrive: " + e.getCause().getMessage(), e.getCause());
                    } catch (TimeoutException e) {
                        throw new IOException("page " + (first + i) + " did not arrive within " + timeout, e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while waiting for page " + (first + i), e);
                    }
                }
            } finally {
                if (waiting) {
                    asking.decrementAndGet();
                }
            }
        }
    }
}
