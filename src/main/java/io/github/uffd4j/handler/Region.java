package io.github.uffd4j.handler;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A range of memory registered with a {@link FaultService}, with its page source (or fault
 * handler) and its per-page state: the single record of which pages are present, shared by the
 * fault path, the background filler and the accessors.
 *
 * <h2>Touching the memory safely</h2>
 * A Java thread that touches a missing page from Java code (a {@code MemorySegment} get or set)
 * blocks inside the kernel in a state the JVM cannot bring to a safepoint; if a safepoint starts
 * meanwhile (a GC, a deoptimisation, a thread dump), the handler threads of the same JVM stop at
 * it too and the JVM hangs. So Java code brings pages in with {@link #load} first: it checks the
 * page state and faults missing pages in from a native call ({@code madvise(MADV_POPULATE_READ)}),
 * where a waiting thread does not hold up safepoints, and then accesses them directly.
 * {@link LazySegment}'s accessors do this for you. Native code, system calls (read(2) into the
 * memory) and other processes sharing the memory may touch it freely.
 */
public final class Region {

    static final byte MISSING = 0;
    static final byte LOADING = 1;
    static final byte PRESENT = 2;
    /** Present, and a fault on it was already answered with a wake; the next such fault refills it. */
    static final byte PRESENT_WOKEN = 3;
    static final byte FAILED = 4;
    static final byte GONE = 5;

    private static final VarHandle STATE = MethodHandles.arrayElementVarHandle(byte[].class);
    private static final int STREAMS = 4;

    final FaultService service;
    final String name;
    volatile long address;
    final long length;
    final long pageSize;
    final int pageShift;
    final int pageCount;
    final PageSource source;
    final FaultHandler handler;
    final WriteFaultHook writeHook;
    /** For MINOR regions: the unregistered mapping of the same memory that contents are written through. */
    final MemorySegment alias;
    final boolean background;

    private final byte[] state;
    final byte[] attempts;
    private final AtomicInteger present = new AtomicInteger();
    final Map<Integer, FaultFailure> failures = new ConcurrentHashMap<>();
    final MemorySegment memory;

    // adaptive readahead: a few sequential streams, replaced round robin
    private final int[] streamStart = new int[STREAMS];
    private final int[] streamNext = new int[STREAMS];
    private final int[] streamWindow = new int[STREAMS];
    private int streamVictim;
    volatile int fillCursor;

    Region(FaultService service, String name, MemorySegment memory, long pageSize, PageSource source,
           FaultHandler handler, WriteFaultHook writeHook, MemorySegment alias, boolean background) {
        this.service = service;
        this.name = name;
        this.memory = memory;
        this.address = memory.address();
        this.length = memory.byteSize();
        this.pageSize = pageSize;
        this.pageShift = Long.numberOfTrailingZeros(pageSize);
        long pages = length / pageSize;
        if (pages > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a region may have at most 2^31 pages; " + length + " bytes at page size "
                    + pageSize + " is " + pages);
        }
        this.pageCount = (int) pages;
        this.source = source;
        this.handler = handler;
        this.writeHook = writeHook;
        this.alias = alias;
        this.background = background;
        this.state = new byte[pageCount];
        this.attempts = new byte[pageCount];
        java.util.Arrays.fill(streamNext, -1);
    }

    // ---- public view -----------------------------------------------------------------------------

    /** The name given at registration (for logs and JFR). */
    public String name() {
        return name;
    }

    /** The registered memory. See the class comment before touching it from Java code. */
    public MemorySegment memory() {
        return memory;
    }

    /** Start address (it changes if the whole region is moved by mremap and a REMAP event says so). */
    public long address() {
        return address;
    }

    /** Size in bytes. */
    public long byteSize() {
        return length;
    }

    /** The page size of the memory (the huge page size for hugetlb). */
    public long pageSize() {
        return pageSize;
    }

    /** Number of pages. */
    public int pageCount() {
        return pageCount;
    }

    /** Pages present now (loaded by a fault, the filler, or zero-filled by the failure policy). */
    public int presentPages() {
        return present.get();
    }

    /** Whether every page is present. */
    public boolean isFullyLoaded() {
        return present.get() >= pageCount;
    }

    /** Whether the page holding {@code offset} is present. */
    public boolean isPresent(long offset) {
        checkOffset(offset);
        int s = stateAcquire((int) (offset >>> pageShift));
        return s == PRESENT || s == PRESENT_WOKEN;
    }

    /** The failure recorded for the page holding {@code offset}, if it failed. */
    public java.util.Optional<FaultFailure> failure(long offset) {
        checkOffset(offset);
        return java.util.Optional.ofNullable(failures.get((int) (offset >>> pageShift)));
    }

    /**
     * Makes sure the pages of {@code [offset, offset + length)} are present, faulting the missing
     * ones in from a native call (safe for the JVM, see the class comment); after it returns, Java
     * code may read those pages directly. Returns at once when they are present already.
     *
     * @throws PageLoadException if a page could not be loaded (the failure policy gave up on it,
     *                           the service closed, or the memory was unmapped)
     */
    public void load(long offset, long length) {
        populate(offset, length, false);
    }

    /**
     * Like {@link #load}, but faults the pages in for writing ({@code MADV_POPULATE_WRITE}): use it
     * before writing from Java code to pages that may be missing or write-protected.
     */
    public void loadForWrite(long offset, long length) {
        populate(offset, length, true);
    }

    /**
     * Drops the pages of {@code [offset, offset + length)} (madvise DONTNEED) and forgets their
     * state, failures included: the next touch loads them again from the source. The offset and
     * length must be page aligned.
     */
    public void reset(long offset, long length) {
        checkRange(offset, length);
        if ((offset & (pageSize - 1)) != 0 || (length & (pageSize - 1)) != 0) {
            throw new IllegalArgumentException("reset: offset " + offset + " and length " + length
                    + " must be multiples of the page size " + pageSize);
        }
        if (Native.madvise(address + offset, length, UffdNative.MADV_DONTNEED()) != 0) {
            int e = Native.errno();
            throw new IllegalStateException("madvise(MADV_DONTNEED) failed: " + Errno.name(e) + " (" + Errno.describe(e)
                    + ") on " + this);
        }
        // The REMOVE event resets the state too; doing it here as well makes reset() synchronous.
        resetPages(address + offset, address + offset + length);
    }

    /**
     * Write-protects the present pages of {@code [offset, offset + length)} (the region must have
     * been registered with a {@link WriteFaultHook}); the next write to each page runs the hook
     * first. Pages not present are skipped by the kernel.
     */
    public void writeProtect(long offset, long length) {
        if (writeHook == null) {
            throw new IllegalStateException("writeProtect: " + this + " was registered without a WriteFaultHook");
        }
        checkRange(offset, length);
        service.uffd().writeProtect(address + offset, length, true, 0);
    }

    @Override
    public String toString() {
        return "Region[" + name + " 0x" + Long.toHexString(address) + " +" + length + ", " + present.get() + "/"
                + pageCount + " pages present]";
    }

    // ---- accessors' slow path ----------------------------------------------------------------------

    private void populate(long offset, long len, boolean write) {
        checkRange(offset, len);
        if (len == 0) {
            return;
        }
        int first = (int) (offset >>> pageShift);
        int end = (int) ((offset + len - 1) >>> pageShift) + 1;
        int p = first;
        while (p < end) {
            int s = stateAcquire(p);
            if ((s == PRESENT || s == PRESENT_WOKEN) && !write) {
                p++;
                continue;
            }
            if (s == FAILED) {
                throw failedPage(p, null);
            }
            if (s == GONE) {
                throw new PageLoadException("offset " + ((long) p << pageShift) + " of " + this + " was unmapped",
                        (long) p << pageShift, null);
            }
            int q = p + 1;
            while (q < end && (write || !isPresentState(stateAcquire(q)))) {
                q++;
            }
            populateNative(p, q, write);
            p = q;
        }
    }

    private void populateNative(int from, int to, boolean write) {
        if (service.isClosed()) {
            throw new PageLoadException(this + ": the FaultService is closed", (long) from << pageShift, null);
        }
        int advice = write ? UffdNative.MADV_POPULATE_WRITE() : UffdNative.MADV_POPULATE_READ();
        for (;;) {
            if (Native.madvise(pageAddress(from), (long) (to - from) << pageShift, advice) == 0) {
                // Every page is mapped now. The kernel woke this thread a moment before the handler
                // thread records that; record it here too, so the state is exact once load() returns.
                for (int p = from; p < to; p++) {
                    if (!cas(p, LOADING, PRESENT)) {
                        cas(p, MISSING, PRESENT);
                    }
                }
                return;
            }
            int e = Native.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            for (int p = from; p < to; p++) {
                if (failures.containsKey(p)) {
                    throw failedPage(p, e);
                }
            }
            throw new PageLoadException("madvise(" + (write ? "MADV_POPULATE_WRITE" : "MADV_POPULATE_READ") + ") on pages ["
                    + from + ", " + to + ") of " + this + " failed: " + Errno.name(e) + " (" + Errno.describe(e) + ")"
                    + (e == Errno.ENOMEM ? ": the memory is no longer mapped" : "")
                    + (e == Errno.EINVAL ? ": MADV_POPULATE_* needs Linux 5.14+" : ""),
                    (long) from << pageShift, null);
        }
    }

    private PageLoadException failedPage(int p, Integer errno) {
        FaultFailure f = failures.get(p);
        long off = (long) p << pageShift;
        String why = f != null ? f.kind() + (f.cause() != null ? ": " + f.cause() : "") : "failed";
        return new PageLoadException("page at offset " + off + " of " + this + " could not be loaded (" + why + ")"
                + (errno != null ? "; the kernel reported " + Errno.name(errno) : "")
                + "; Region.reset() lets it be tried again", off, f != null ? f.cause() : null);
    }

    // ---- page state ------------------------------------------------------------------------------

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

    int stateAcquire(int p) {
        return (byte) STATE.getAcquire(state, p);
    }

    static boolean isPresentState(int s) {
        return s == PRESENT || s == PRESENT_WOKEN;
    }

    boolean cas(int p, byte expected, byte next) {
        boolean ok = STATE.compareAndSet(state, p, expected, next);
        if (ok) {
            if (isPresentState(expected) && !isPresentState(next)) {
                present.decrementAndGet();
            } else if (!isPresentState(expected) && isPresentState(next)) {
                present.incrementAndGet();
            }
        }
        return ok;
    }

    /** Sets page {@code p} to {@code next} whatever it was, keeping the present count right. */
    void force(int p, byte next) {
        for (;;) {
            byte s = (byte) STATE.getVolatile(state, p);
            if (s == next || cas(p, s, next)) {
                return;
            }
        }
    }

    /** Claims page {@code p} for loading if it is missing. */
    boolean claim(int p) {
        return cas(p, MISSING, LOADING);
    }

    /** A loader finished page {@code p}: present, unless an event changed its state meanwhile. */
    void loaded(int p) {
        cas(p, LOADING, PRESENT);
        attempts[p] = 0;
    }

    /** A loader gives page {@code p} back untouched; the caller wakes the range afterwards. */
    void release(int p) {
        cas(p, LOADING, MISSING);
    }

    /** REMOVE: the pages of [start, end) are gone from the page tables; later faults load them again. */
    void resetPages(long start, long end) {
        long span = span(start, end, true);
        int from = (int) (span >>> 32);
        int to = (int) span;
        // failures is empty unless a source failed: skip the per-page (boxing) removal then
        boolean anyFailures = !failures.isEmpty();
        for (int p = from; p < to; p++) {
            byte s = (byte) STATE.getVolatile(state, p);
            if (s != GONE && s != MISSING) {
                force(p, MISSING);
            }
            attempts[p] = 0;
            if (anyFailures) {
                failures.remove(p);
            }
        }
        if (from < fillCursor) {
            fillCursor = from;
        }
    }

    /** UNMAP: [start, end) is no longer mapped. */
    void dropPages(long start, long end) {
        long span = span(start, end, false);
        for (int p = (int) (span >>> 32), to = (int) span; p < to; p++) {
            force(p, GONE);
        }
    }

    /**
     * Pages fully inside [start, end) (whole = true), or touching it, packed as
     * {@code from << 32 | to} (an empty span is 0).
     */
    private long span(long start, long end, boolean whole) {
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
     * The block to load for a fault on page {@code p}, packed as {@code start << 32 | end}. A
     * fault that continues a sequential stream (it falls between the start of the stream's last
     * block and one block past its end: a reader that skipped over pages already present still
     * counts) gets a block starting at {@code p} twice as long as the stream's last one, up to
     * {@code maxPages}. Any other fault is random: the aligned fault-around block, and a new
     * stream replaces the least recently started one.
     */
    long readahead(int p, int basePages, int maxPages) {
        synchronized (streamNext) {
            for (int i = 0; i < STREAMS; i++) {
                int next = streamNext[i];
                if (next >= 0 && p >= streamStart[i] && (long) p < (long) next + streamWindow[i]) {
                    int w = Math.min(maxPages, streamWindow[i] * 2);
                    int end = (int) Math.min((long) pageCount, (long) p + w);
                    streamStart[i] = p;
                    streamNext[i] = end;
                    streamWindow[i] = w;
                    return ((long) p << 32) | end;
                }
            }
            int start = p - p % basePages;
            int end = (int) Math.min((long) pageCount, (long) start + basePages);
            int v = streamVictim;
            streamVictim = (v + 1) % STREAMS;
            streamStart[v] = start;
            streamNext[v] = end;
            streamWindow[v] = basePages;
            return ((long) start << 32) | end;
        }
    }

    private void checkOffset(long offset) {
        if (offset < 0 || offset >= length) {
            throw new IndexOutOfBoundsException("offset " + offset + " is outside " + this);
        }
    }

    private void checkRange(long offset, long len) {
        if (offset < 0 || len < 0 || offset > length - len) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + len) + ") is outside " + this);
        }
    }
}
