package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A range of memory registered with a {@link FaultService}, with its page source (or fault
 * handler). Its pages' state lives in a page table that the fault path, the background filler
 * and the accessors share. Thread safe.
 *
 * <h2>Touching the memory safely</h2>
 * A Java thread that touches a missing page from Java code (a {@code MemorySegment} get or set)
 * blocks inside the kernel in a state the JVM cannot bring to a safepoint; if a safepoint starts
 * meanwhile (a GC, a deoptimisation, a thread dump), the handler threads of the same JVM stop at
 * it too and the JVM hangs. So Java code brings pages in with {@link #load} first: it faults
 * missing pages in from a native call ({@code madvise(MADV_POPULATE_READ)}), where a waiting
 * thread does not hold up safepoints. After {@code load} returns, plain Java access to those
 * pages is safe <em>until they are zapped</em>: by {@link #reset}, by madvise(MADV_DONTNEED,
 * MADV_REMOVE, MADV_FREE) on the memory, or, for shared memory, by a hole punched into it or by
 * reclaim. After a zap, load again before touching them from Java. {@link LazySegment}'s
 * accessors need no such care: they never load registered memory from Java unless no zap can
 * happen meanwhile. Native code, system calls (read(2) into the memory) and other processes may
 * touch the memory freely.
 *
 * <p>Once the region is {@linkplain FaultService#unregister unregistered} or its service is
 * closed, {@link #load}, {@link #reset} and {@link #writeProtect} throw.
 */
public final class Region {

    private final FaultService service;
    private final Userfaultfd uffd;
    private final ZapGate gate;
    private final String name;
    private final long length;
    private final long pageSize;
    private final int pageShift;
    private final PageSource source;
    private final FaultHandler handler;
    private final WriteFaultHook writeHook;
    private final MemorySegment alias;
    private final java.util.concurrent.locks.ReentrantLock pageCacheLock = new java.util.concurrent.locks.ReentrantLock();
    private final boolean background;
    private final PageTable pages;
    private final Readahead readahead;
    /** The memory is another process's (the service serves an adopted userfaultfd): never touched here. */
    private final boolean remote;
    /**
     * Pages per huge-page block that loaders may fill with UFFDIO_MOVE from their staging buffer, or
     * 0 when they must copy; dropped to 0 for good when the kernel refuses a move here.
     */
    private volatile int moveUnitPages;
    /** Where the region is: changed only by {@link RegionTable} when a REMAP moves it whole. */
    private volatile long address;
    private volatile MemorySegment memory;
    private volatile boolean retired;

    Region(FaultService service, Userfaultfd uffd, ZapGate gate, String name, MemorySegment memory, long pageSize,
           PageSource source, FaultHandler handler, WriteFaultHook writeHook, MemorySegment alias, boolean background,
           boolean trusted, boolean remote, boolean mayMove) {
        this.service = service;
        this.uffd = uffd;
        this.gate = gate;
        this.name = name;
        this.memory = memory;
        this.address = memory.address();
        this.length = memory.byteSize();
        this.pageSize = pageSize;
        this.pageShift = Long.numberOfTrailingZeros(pageSize);
        long count = length / pageSize;
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a region may have at most 2^31 pages; " + length + " bytes at page size "
                    + pageSize + " is " + count);
        }
        this.source = source;
        this.handler = handler;
        this.writeHook = writeHook;
        this.alias = alias;
        this.background = background;
        this.pages = new PageTable((int) count, trusted && alias == null);
        this.readahead = new Readahead((int) count);
        this.remote = remote;
        long unit = HugeUnits.unitBytes();
        // UFFDIO_MOVE works on private anonymous memory of the process that opened the descriptor;
        // memory of another kind is found out at the first move (EINVAL) and copied from then on
        this.moveUnitPages = mayMove && !remote && alias == null && handler == null && pageSize == Memory.pageSize()
                && unit > pageSize ? (int) (unit / pageSize) : 0;
    }

    // ---- public view -----------------------------------------------------------------------------

    /**
     * The name given at registration (for logs and JFR).
     *
     * @return the name
     */
    public String name() {
        return name;
    }

    /**
     * The registered memory (at its current address, if a REMAP moved the region). See the class
     * comment before touching it from Java code. For a region of another process
     * ({@link FaultService.Builder#serve}) these are the other process's addresses: never touch them here.
     *
     * @return the memory
     */
    public MemorySegment memory() {
        return memory;
    }

    /**
     * Start address (it changes if the whole region is moved by mremap and a REMAP event says so).
     *
     * @return the first byte's address
     */
    public long address() {
        return address;
    }

    /**
     * Size in bytes.
     *
     * @return the size, whole pages
     */
    public long byteSize() {
        return length;
    }

    /**
     * The page size of the memory (the huge page size for hugetlb).
     *
     * @return the page size in bytes
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * Number of pages.
     *
     * @return the page count
     */
    public int pageCount() {
        return pages.pageCount();
    }

    /**
     * Pages present now (loaded by a fault, the filler, or zero-filled by the failure policy).
     *
     * @return the present pages
     */
    public int presentPages() {
        return pages.presentCount();
    }

    /**
     * The pages present now, by index (page {@code i} holds bytes from {@code i * pageSize()}): a
     * moment's view, pages may come and go while faults are served. Taken while nothing loads
     * (writers held still), it tells which pages hold data of their own and which would come from
     * the source.
     *
     * @return a new bit set of the present pages
     */
    public java.util.BitSet presentPageSet() {
        return pages.presentSet();
    }

    /**
     * Whether every page is present.
     *
     * @return true when every page is present
     */
    public boolean isFullyLoaded() {
        return pages.presentCount() >= pages.pageCount();
    }

    /**
     * Whether the page holding {@code offset} is present.
     *
     * @param offset a byte offset in the region
     * @return true when its page is present
     */
    public boolean isPresent(long offset) {
        checkOffset(offset);
        return pages.isPresent((int) (offset >>> pageShift));
    }

    /**
     * The failure recorded for the page holding {@code offset}, if it failed.
     *
     * @param offset a byte offset in the region
     * @return its page's failure, or empty
     */
    public Optional<FaultFailure> failure(long offset) {
        checkOffset(offset);
        return Optional.ofNullable(pages.failure((int) (offset >>> pageShift)));
    }

    /**
     * Whether the region is still served (not unregistered, its service not closed).
     *
     * @return false once unregistered or its service closed
     */
    public boolean isServed() {
        return !retired && !service.isClosed();
    }

    /**
     * Makes sure the pages of {@code [offset, offset + length)} are present, faulting the missing
     * ones in from a native call (safe for the JVM, see the class comment). Returns at once when
     * they are present already.
     *
     * @param offset the first byte, from the region's start
     * @param length the length in bytes
     * @throws PageLoadException if a page could not be loaded (the failure policy gave up on it,
     *                           the memory was unmapped), or the region is no longer served
     */
    public void load(long offset, long length) {
        populate(offset, length, false);
    }

    /**
     * Like {@link #load}, but faults the pages in for writing ({@code MADV_POPULATE_WRITE}): use it
     * before writing from Java code to pages that may be missing or write-protected.
     *
     * @param offset the first byte, from the region's start
     * @param length the length in bytes
     */
    public void loadForWrite(long offset, long length) {
        populate(offset, length, true);
    }

    /**
     * Drops the pages of {@code [offset, offset + length)} (madvise DONTNEED) and forgets their
     * state, failures included: the next touch loads them again from the source. The offset and
     * length must be page aligned. Slices of these pages must not be touched from Java afterwards
     * until loaded again (see the class comment); {@link LazySegment}'s accessors stay safe.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void reset(long offset, long length) {
        checkRange(offset, length);
        if ((offset & (pageSize - 1)) != 0 || (length & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException("reset: offset " + offset + " and length " + length
                    + " must be multiples of the page size " + pageSize);
        }
        checkServed("reset");
        if (length == 0) {
            return;
        }
        int from = (int) (offset >>> pageShift);
        int to = (int) ((offset + length) >>> pageShift);
        long token = pages.resetBegins(from, to);
        try {
            Memory.dontNeed(address + offset, length);
        } finally {
            // The REMOVE event reset the state already; doing it again once the zap is done makes reset() exact.
            // With the gate closed, as for an event: a loader recording a page present (inside the gate) sees
            // either the state before this or the zap it records, never the zap's epoch before its MISSING.
            gate.close();
            try {
                pages.zapped(from, to);
            } finally {
                gate.open();
            }
            pages.resetEnds(token);
        }
    }

    /**
     * Write-protects the present pages of {@code [offset, offset + length)} (the region must have
     * been registered with a {@link WriteFaultHook}); the next write to each page runs the hook
     * first. Pages not present are skipped by the kernel. Works on another process's memory too
     * (a served descriptor's region): the protection is that process's.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void writeProtect(long offset, long length) {
        protection("writeProtect", offset, length, true);
    }

    /** Work on a region's pages that must not overlap a zap of them ({@link #unzappedSince}). */
    @FunctionalInterface
    public interface Unzapped {
        /**
         * Does the work.
         *
         * @throws Exception any failure, passed on to the caller of {@link #unzappedSince}
         */
        void run() throws Exception;
    }

    /**
     * How many times pages of this region have been zapped so far: REMOVE events
     * (madvise(MADV_DONTNEED / MADV_REMOVE), hole punches) and {@link #reset}s. Taken at an instant,
     * it lets {@link #unzappedSince} tell whether any page may have lost its contents since.
     *
     * @return the region's zap count
     */
    public long zapEpoch() {
        return pages.zapEpoch();
    }

    /**
     * Runs {@code work} only if no page of the region has been zapped since {@link #zapEpoch}
     * returned {@code epoch}, and so that none can be zapped while it runs: the service's handler
     * threads wait to read events until it is done (so keep it short: a copy of some pages). How a
     * reader of another process's memory (a pager's snapshot) knows the pages it copies still hold
     * what they held at that instant.
     *
     * @param epoch a value {@link #zapEpoch} returned
     * @param work  the work, typically a copy of some of the region's pages
     * @return true if {@code work} ran, false if pages were zapped since {@code epoch}
     * @throws Exception what {@code work} threw
     */
    public boolean unzappedSince(long epoch, Unzapped work) throws Exception {
        int stripe = gate.enterWaiting();
        try {
            if (pages.zapEpoch() != epoch) {
                return false;
            }
            work.run();
            return true;
        } finally {
            gate.leave(stripe);
        }
    }

    /**
     * Lifts the write protection of {@code [offset, offset + length)} (the region must have been
     * registered with a {@link WriteFaultHook}) and wakes the writers waiting there.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void writeUnprotect(long offset, long length) {
        protection("writeUnprotect", offset, length, false);
    }

    /** UFFDIO_WRITEPROTECT on the region's pages, after the checks both directions make. */
    private void protection(String call, long offset, long length, boolean protect) {
        if (writeHook == null) {
            throw new IllegalStateException(call + ": " + this + " was registered without a WriteFaultHook");
        }
        checkRange(offset, length);
        checkRegistered(call);
        uffd.writeProtect(address + offset, length, protect, 0);
    }

    @Override
    public String toString() {
        return "Region[" + name + " 0x" + Long.toHexString(address) + " +" + length + ", " + pages.presentCount() + "/"
                + pages.pageCount() + " pages present" + (retired ? ", unregistered" : "") + "]";
    }

    // ---- the runtime's view ----------------------------------------------------------------------

    PageTable pages() {
        return pages;
    }

    Readahead readahead() {
        return readahead;
    }

    PageSource source() {
        return source;
    }

    FaultHandler handler() {
        return handler;
    }

    WriteFaultHook writeHook() {
        return writeHook;
    }

    /** Pages per block a loader may UFFDIO_MOVE into place whole, or 0 when it must copy. */
    int moveUnitPages() {
        return moveUnitPages;
    }

    /**
     * The first page from {@code p} on whose address is aligned to a block of {@code unit} pages
     * ({@link #moveUnitPages}): where a block a loader may move into place can start.
     */
    int nextMoveUnit(int p, int unit) {
        long unitBytes = (long) unit << pageShift;
        long at = address + ((long) p << pageShift);
        return (int) (p + ((((at + unitBytes - 1) & -unitBytes) - at) >>> pageShift));
    }

    /** The first page that starts a block a loader may move into place whole, or 0 when it must copy. */
    int firstMoveUnit() {
        int unit = moveUnitPages;
        return unit > 0 ? nextMoveUnit(0, unit) : 0;
    }

    /** The kernel refused to move pages here: copy from now on. */
    void noMoves() {
        moveUnitPages = 0;
    }

    MemorySegment alias() {
        return alias;
    }

    /**
     * Held (MINOR regions) from a write into the page cache through the alias until the pages
     * written are mapped with UFFDIO_CONTINUE. A write into the page cache is not atomic: after a
     * hole punch it lands in a fresh page that reads as zeros until the write reaches it, and a
     * CONTINUE by another loader in that moment would map the page half written.
     */
    java.util.concurrent.locks.ReentrantLock pageCacheLock() {
        return pageCacheLock;
    }

    boolean backgroundFill() {
        return background;
    }

    int pageShift() {
        return pageShift;
    }

    ZapGate gate() {
        return gate;
    }

    long pageAddress(int page) {
        return address + ((long) page << pageShift);
    }

    boolean contains(long addr) {
        long a = address;
        return addr >= a && addr - a < length;
    }

    int pageOf(long addr) {
        return (int) ((addr - address) >>> pageShift);
    }

    /** The region was moved whole to {@code to} (REMAP); called by {@link RegionTable} only. */
    void movedTo(long to) {
        memory = Memory.segmentAt(to, length);
        address = to;
    }

    /** Unregistered, or its service closed: the public operations throw from now on. */
    void retire() {
        retired = true;
    }

    /**
     * Pages fully inside [start, end) ({@code whole}), or touching it, packed as
     * {@code from << 32 | to} (an empty span is 0).
     */
    long pageSpan(long start, long end, boolean whole) {
        long a = address;
        long s = Math.max(start, a);
        long e = Math.min(end, a + length);
        if (s >= e) {
            return 0;
        }
        long from = whole ? (s - a + pageSize - 1) >>> pageShift : (s - a) >>> pageShift;
        long to = whole ? (e - a) >>> pageShift : (e - a + pageSize - 1) >>> pageShift;
        return from << 32 | Math.max(from, to);
    }

    /**
     * Installs {@code contents} (whole pages of off-heap memory) at {@code offset} wherever those
     * pages are still missing: the push side of postcopy migration, pages that arrive before
     * anyone faults on them. A page already loaded, or being loaded by a fault at this moment, is
     * left as it is (that load brings the page from the source). Returns how many pages were
     * installed.
     *
     * <p>Anonymous and hugetlb memory: UFFDIO_COPY (a page someone else mapped meanwhile makes it
     * EEXIST: left as it is, its waiters woken). Shared memory served in MINOR mode
     * ({@link FaultService#register(io.github.uffd4j.SharedMemory, PageSource)}): each run of
     * pages still missing is written into the page cache through the alias, then mapped into the
     * view with UFFDIO_CONTINUE, under the same page-cache lock as the fault path; a page the
     * kernel already maps in the view (mapped before registration without
     * {@link RegionBuilder#presentPages}) is recorded present and never overwritten, and a page
     * whose page-cache page is punched out between the write and the CONTINUE is given back
     * (missing: the next touch loads it).
     *
     * @param offset where the contents go, page aligned
     * @param contents whole pages of off-heap memory
     * @return the pages installed
     * @throws IllegalArgumentException offset or length not page-aligned, or contents on the heap
     * @throws IllegalStateException    the region is unregistered or its service closed
     * @throws UffdException            the kernel refused the copy (or the write into the page
     *                                  cache) for a reason retrying cannot fix
     */
    public int supply(long offset, MemorySegment contents) {
        checkServed("supply");
        long length = contents.byteSize();
        checkRange(offset, length);
        if ((offset & (pageSize - 1)) != 0 || (length & (pageSize - 1)) != 0 || !contents.isNative()) {
            throw new IllegalArgumentException("supply: offset " + offset + " and length " + length + " must be multiples "
                    + "of the page size " + pageSize + ", the contents off-heap memory: " + contents);
        }
        PageInstaller installer = service.installer();
        int first = (int) (offset >>> pageShift);
        int end = (int) ((offset + length) >>> pageShift);
        int installed = 0;
        int p = first;
        while (p < end) {
            long epoch = pages.zapEpoch();
            if (!pages.claim(p)) {
                p++;
                continue;
            }
            if (alias != null && service.kernelPresent(this, p) == 1) {
                markPresent(p, p + 1, epoch); // mapped in the view already (before registration): keep what it holds
                p++;
                continue;
            }
            int q = p + 1;
            while (q < end && (alias == null || service.kernelPresent(this, q) != 1) && pages.claim(q)) {
                q++;
            }
            long src = contents.address() + ((long) (p - first) << pageShift);
            switch (alias == null ? installer.install(this, p, q, src, null, false, epoch, null) : supplyShared(p, q, src, epoch)) {
                case DONE -> installed += q - p;
                case STEPPED_BACK, ZAPPED -> {
                    // events pending that only a handler thread reads, or a hole punched meanwhile: the pages were given back
                }
                case GONE -> {
                    return installed;
                }
                default -> {
                    installer.release(this, p, q);
                    Throwable t = installer.lastError();
                    throw t instanceof UffdException u ? u : new IllegalStateException("supply: " + this, t);
                }
            }
            p = q;
        }
        return installed;
    }

    /**
     * {@link #supply} for a MINOR region: pages [p, q), claimed, written into the page cache
     * through the alias from {@code src}, then mapped with UFFDIO_CONTINUE, both under the
     * page-cache lock (as {@link PageLoader} does). Pages punched out in between are given back.
     */
    private PageInstaller.Result supplyShared(int p, int q, long src, long epoch) {
        PageInstaller installer = service.installer();
        long len = (long) (q - p) << pageShift;
        pageCacheLock.lock();
        try {
            Memory.writeThroughKernel(alias.address() + ((long) p << pageShift), Memory.segmentAt(src, len));
            PageInstaller.Result result = installer.install(this, p, q, 0, null, false, epoch, null);
            if (result == PageInstaller.Result.ZAPPED) {
                installer.release(this, p, q);
            }
            return result;
        } catch (UffdException x) {
            installer.release(this, p, q);
            throw x;
        } finally {
            pageCacheLock.unlock();
        }
    }

    // ---- loading from native code ------------------------------------------------------------------

    private void populate(long offset, long len, boolean write) {
        checkLocal(write ? "loadForWrite" : "load");
        checkRange(offset, len);
        checkServedForLoad((int) (offset >>> pageShift));   // also when every page is present: the class comment promises it
        if (len == 0) {
            return;
        }
        int end = (int) ((offset + len - 1) >>> pageShift) + 1;
        int p = (int) (offset >>> pageShift);
        while (p < end) {
            int s = pages.state(p);
            if (PageTable.isPresentState(s) && !write) {
                p++;
                continue;
            }
            if (s == PageTable.FAILED) {
                throw failedPage(p, null);
            }
            if (s == PageTable.GONE) {
                throw new PageLoadException("offset " + ((long) p << pageShift) + " of " + this + " was unmapped",
                        (long) p << pageShift, null);
            }
            int q = p + 1;
            while (q < end && (write || !pages.isPresent(q))) {
                q++;
            }
            populateNative(p, q, write);
            p = q;
        }
    }

    private void populateNative(int from, int to, boolean write) {
        checkServedForLoad(from);
        long epoch = pages.zapEpoch();
        try {
            Memory.populate(pageAddress(from), (long) (to - from) << pageShift, write);
        } catch (UffdException x) {
            throw loadFailure(from, to, x);
        }
        // Every page is mapped now. The kernel woke this thread a moment before the handler thread
        // records that; record it here too (unless a zap came since), so the state is exact once load() returns.
        markPresent(from, to, epoch);
    }

    /**
     * Records pages [from, to) present (unless a zap came since {@code epoch}), inside the zap
     * gate so that no REMOVE is applied meanwhile.
     */
    void markPresent(int from, int to, long epoch) {
        int stripe = gate.enterWaiting();
        try {
            pages.markPresent(from, to, epoch);
        } finally {
            gate.leave(stripe);
        }
        service.installer().wakeLeftToLoad(this, from, to);
    }

    /** The exception for a failed load of pages [from, to): the recorded failure if one of them has one. */
    PageLoadException loadFailure(int from, int to, UffdException x) {
        for (int p = from; p < to; p++) {
            if (pages.failure(p) != null) {
                return failedPage(p, x.errnoName());
            }
        }
        if (!isServed()) {
            return new PageLoadException(this + " is no longer served (the service closed or the region was unregistered)",
                    (long) from << pageShift, x);
        }
        return new PageLoadException("pages [" + from + ", " + to + ") of " + this + " could not be loaded: "
                + x.getMessage(), (long) from << pageShift, x);
    }

    private PageLoadException failedPage(int p, String errnoName) {
        FaultFailure f = pages.failure(p);
        long off = (long) p << pageShift;
        String why = f != null ? f.kind() + (f.cause() != null ? ": " + f.cause() : "") : "failed";
        return new PageLoadException("page at offset " + off + " of " + this + " could not be loaded (" + why + ")"
                + (errnoName != null ? "; the kernel reported " + errnoName : "")
                + "; Region.reset() lets it be tried again", off, f != null ? f.cause() : null);
    }

    private void checkServed(String call) {
        checkLocal(call);
        checkRegistered(call);
    }

    /** Refuses calls on a region unregistered or of a closed service (write protection works on another process's memory too). */
    private void checkRegistered(String call) {
        if (retired) {
            throw new IllegalStateException(call + ": " + this + " was unregistered");
        }
        if (service.isClosed()) {
            throw new IllegalStateException(call + ": the FaultService of " + this + " is closed");
        }
    }

    /** Refuses the calls that act on this process's memory when the memory is another process's. */
    private void checkLocal(String call) {
        if (remote) {
            throw new UnsupportedOperationException(call + ": " + this + " is memory of the process that handed its "
                    + "userfaultfd to this service; it cannot be loaded, reset or read from here (the owner touches it)");
        }
    }

    /**
     * Whether the memory belongs to another process (see {@link FaultService.Builder#serve}).
     *
     * @return true for another process's memory
     */
    public boolean isRemote() {
        return remote;
    }

    void checkServedForLoad(int page) {
        if (!isServed()) {
            throw new PageLoadException(this + " is no longer served (" + (retired ? "unregistered" : "its FaultService is closed")
                    + ")", (long) page << pageShift, null);
        }
    }

    private void checkOffset(long offset) {
        if (offset < 0 || offset >= length) {
            throw new IndexOutOfBoundsException("offset " + offset + " is outside " + this);
        }
    }

    void checkRange(long offset, long len) {
        if (offset < 0 || len < 0 || offset > length - len) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + len) + ") is outside " + this);
        }
    }
}
