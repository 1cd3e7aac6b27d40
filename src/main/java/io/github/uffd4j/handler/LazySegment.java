package io.github.uffd4j.handler;

import io.github.uffd4j.CreationPath;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;

import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Objects;

/**
 * Off-heap memory of a given size whose contents come from a {@link PageSource}, loaded page by
 * page when first read: the common case in one object. It owns its memory, its
 * {@link FaultService} and its handler threads; {@link #close()} releases all of them.
 *
 * <pre>{@code
 * try (LazySegment data = LazySegment.open(1L << 30, (offset, dst) -> readFromFile(offset, dst))) {
 *     long v = data.getLong(123_456_789);          // loads the block around that offset, once
 *     MemorySegment s = data.slice(0, 1 << 20);    // loaded; plain Java access from here on
 * }
 * }</pre>
 *
 * <p>The accessors ({@link #getByte}, {@link #getInt}, {@link #getLong}, {@link #copyTo}) are
 * safe whatever runs concurrently, resets and madvise zaps included: they load from Java only
 * pages the page table calls present while no zap can happen (see {@code ZapGate}), and read
 * everything else through the kernel (process_vm_readv), where a missing page is faulted in while
 * the thread waits in native code and a failed page is a {@link PageLoadException}, never a JVM
 * freeze or a crash. {@link #slice} and {@link #segment()} hand out the memory itself: plain Java
 * access to them is safe only for pages loaded and not zapped since (see {@link #slice}). Native
 * code and system calls may use {@link #segment()} anywhere.
 *
 * <p>{@link #getInt} and {@link #getLong} read in the native byte order
 * ({@link java.nio.ByteOrder#nativeOrder()}: little-endian on x86_64 and aarch64), as
 * {@link ValueLayout#JAVA_LONG} does. Data stored big-endian (by {@link java.io.DataOutput}, in
 * network order) comes back byte-reversed: use {@link Long#reverseBytes} and
 * {@link Integer#reverseBytes}, or read a loaded {@link #slice} with
 * {@code ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN)}.
 *
 * <p>Thread safe.
 */
public final class LazySegment implements AutoCloseable {

    private final FaultService service;
    private final Region region;
    private final Mapping mapping;
    private final SharedMemory shared;
    private final MemorySegment segment;
    private final long size;
    private final int pageShift;
    private final ZapGate gate;

    /** The largest segment: 4 TiB (2^30 pages of 4 KiB; a region's page table takes at most 2^31 pages). */
    private static final long MAX_SIZE = 1L << 42;

    /** The largest piece read at once (through the gate, or through the kernel). */
    private static final long CHUNK = 64 * 1024;
    private static final ThreadLocal<MemorySegment> BOUNCE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CHUNK, 64));

    private LazySegment(FaultService service, Region region, Mapping mapping, SharedMemory shared, long size) {
        this.service = service;
        this.region = region;
        this.mapping = mapping;
        this.shared = shared;
        this.segment = region.memory().asSlice(0, size);
        this.size = size;
        this.pageShift = region.pageShift();
        this.gate = region.gate();
    }

    /**
     * {@code size} bytes of anonymous memory filled on demand by {@code source}, with default settings.
     *
     * @param size the size in bytes, up to 4 TiB
     * @param source fills the pages
     * @return the segment, owned by the caller (close it)
     */
    public static LazySegment open(long size, PageSource source) {
        return builder(size, source).open();
    }

    /**
     * Settings for a lazy segment of {@code size} bytes over {@code source}.
     *
     * @param size the size in bytes, up to 4 TiB
     * @param source fills the pages
     * @return a builder
     */
    public static Builder builder(long size, PageSource source) {
        return new Builder(size, source);
    }

    /** Settings of a {@link LazySegment}. */
    public static final class Builder {
        private final long size;
        private final PageSource source;
        /** Readahead threads of a LazySegment unless told otherwise: a sequential reader rarely waits. */
        static final int DEFAULT_READAHEAD_THREADS = 2;

        private final FaultService.Builder service = FaultService.builder().readaheadThreads(DEFAULT_READAHEAD_THREADS);
        private HugePageSize hugePages;
        private boolean shared;
        private String name = "lazy-segment";

        private Builder(long size, PageSource source) {
            if (size <= 0 || size > MAX_SIZE) {
                throw new IllegalArgumentException("size must be 1 byte to " + (MAX_SIZE >> 40) + " TiB, not " + size);
            }
            this.size = size;
            this.source = Objects.requireNonNull(source, "source");
        }

        /**
         * Handler threads (default 2).
         *
         * @param n the thread count
         * @return this builder
         */
        public Builder threads(int n) {
            service.threads(n);
            return this;
        }

        /**
         * Readahead threads, loading ahead of a sequential reader in parallel (default 2, where a
         * FaultService has none; see {@link FaultService.Builder#readaheadThreads}). They only
         * work while a thread reads sequentially; 0 turns them off.
         *
         * @param n the thread count, 0 to 64
         * @return this builder
         */
        public Builder readaheadThreads(int n) {
            service.readaheadThreads(n);
            return this;
        }

        /**
         * Bytes loaded around a random fault (default 64 KiB).
         *
         * @param bytes the block size in bytes
         * @return this builder
         */
        public Builder faultAround(long bytes) {
            service.faultAround(bytes);
            return this;
        }

        /**
         * Largest sequential readahead block (default 2 MiB).
         *
         * @param bytes the largest block in bytes
         * @return this builder
         */
        public Builder maxReadahead(long bytes) {
            service.maxReadahead(bytes);
            return this;
        }

        /**
         * Whether a background thread loads everything not yet asked for (default off).
         *
         * @param on whether to fill in the background
         * @return this builder
         */
        public Builder backgroundFill(boolean on) {
            service.backgroundFill(on);
            return this;
        }

        /**
         * What to do when the source fails or times out (default {@link FailurePolicy#DEFAULT}).
         *
         * @param policy the policy
         * @return this builder
         */
        public Builder failurePolicy(FailurePolicy policy) {
            service.failurePolicy(policy);
            return this;
        }

        /**
         * How long close() lets pending loads finish (default 5 s).
         *
         * @param timeout the time pending loads get
         * @return this builder
         */
        public Builder closeTimeout(Duration timeout) {
            service.closeTimeout(timeout);
            return this;
        }

        /**
         * Called for every {@link FaultFailure}.
         *
         * @param listener receives each failure, on a service thread
         * @return this builder
         */
        public Builder onFailure(java.util.function.Consumer<FaultFailure> listener) {
            service.onFailure(listener);
            return this;
        }

        /**
         * How the segment's userfaultfd is created (default {@link CreationPath#AUTO}).
         *
         * @param path the creation path
         * @return this builder
         * @see FaultService.Builder#creationPath
         */
        public Builder creationPath(CreationPath path) {
            service.creationPath(path);
            return this;
        }

        /**
         * Serves the segment through a userfaultfd the caller opened (owned by the segment from
         * {@link #open()} on, closed with it; not user-mode-only).
         *
         * @param uffd an open userfaultfd of this process, with no ranges registered
         * @return this builder
         * @see FaultService.Builder#use
         */
        public Builder use(Userfaultfd uffd) {
            service.use(uffd);
            return this;
        }

        /**
         * Back the segment with huge pages of this size (reserved beforehand; see
         * {@link Memory#reserveHugePages}).
         *
         * @param pageSize the huge page size
         * @return this builder
         */
        public Builder hugePages(HugePageSize pageSize) {
            this.hugePages = pageSize;
            return this;
        }

        /**
         * Back the segment with shared memory (a memfd) served in MINOR mode: the source writes
         * straight into the page cache and UFFDIO_CONTINUE maps it; {@link #sharedMemory()} can be
         * handed to other processes.
         *
         * @param on whether to use shared memory
         * @return this builder
         */
        public Builder shared(boolean on) {
            this.shared = on;
            return this;
        }

        /**
         * A name for logs and JFR.
         *
         * @param name the name
         * @return this builder
         */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * Maps the memory, starts the service and registers the memory with it.
         *
         * @return the segment, owned by the caller (close it)
         */
        public LazySegment open() {
            long page = hugePages != null ? hugePages.bytes() : Memory.pageSize();
            long mapped = Memory.roundUp(size, page);
            FaultService s = service.start();
            Mapping m = null;
            SharedMemory sh = null;
            try {
                Region r;
                if (shared) {
                    sh = hugePages != null ? Memory.sharedHugetlb(mapped, hugePages) : Memory.shared(mapped);
                    r = s.region(sh.view().segment()).pageSize(page).alias(sh.alias().segment()).source(source).name(name).register();
                } else {
                    long unit = HugeUnits.unitBytes();
                    // aligned to the huge page size and advised, every whole block of it can be moved into place at once
                    boolean blocks = hugePages == null && unit > 0 && mapped >= unit;
                    m = hugePages != null ? Memory.hugetlb(mapped, hugePages)
                            : blocks ? Memory.anonymousAligned(mapped, unit) : Memory.anonymous(mapped);
                    RegionBuilder rb = s.region(m.segment()).pageSize(page).source(source).name(name);
                    // advised, a missing fault leaves no page table in a block (the kernel asks for the
                    // whole block first), so a loader can move a whole huge page into each
                    if (blocks && HugeUnits.advise(m)) {
                        rb.hugePageBlocks();
                    }
                    r = rb.register();
                }
                return new LazySegment(s, r, m, sh, size);
            } catch (RuntimeException | Error e) {
                s.close();
                if (m != null) {
                    m.close();
                }
                if (sh != null) {
                    sh.close();
                }
                throw e;
            }
        }
    }

    /**
     * Size in bytes.
     *
     * @return the size given at creation
     */
    public long byteSize() {
        return size;
    }

    /**
     * The memory itself, for native code and system calls (always safe) and for plain Java access
     * to pages loaded and not zapped since, exactly as for {@link #slice}.
     *
     * @return the whole memory
     */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * The region, for its page state.
     *
     * @return the region
     */
    public Region region() {
        return region;
    }

    /**
     * The service serving it.
     *
     * @return the service
     */
    public FaultService service() {
        return service;
    }

    /**
     * The counters of its service.
     *
     * @return a snapshot of the counters
     */
    public FaultStats stats() {
        return service.stats();
    }

    /**
     * The shared memory behind it, when built with {@link Builder#shared}.
     *
     * @return the shared memory
     */
    public SharedMemory sharedMemory() {
        if (shared == null) {
            throw new IllegalStateException("this LazySegment is anonymous memory; build it with shared(true)");
        }
        return shared;
    }

    /**
     * Whether every page of {@code [offset, offset + length)} is loaded.
     *
     * @param offset the first byte
     * @param length the length in bytes
     * @return true when every page is loaded
     */
    public boolean isLoaded(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return true;
        }
        return region.pages().allPresent((int) (offset >>> pageShift), (int) ((offset + length - 1) >>> pageShift) + 1);
    }

    /**
     * Loads {@code [offset, offset + length)} if needed; afterwards plain Java access to it is
     * safe until the pages are zapped (see {@link #slice}).
     *
     * @param offset the first byte
     * @param length the length in bytes
     */
    public void load(long offset, long length) {
        checkRange(offset, length);
        region.load(offset, length);
    }

    /**
     * The byte at {@code offset}.
     *
     * @param offset the byte's offset
     * @return the byte
     */
    public byte getByte(long offset) {
        checkRange(offset, 1);
        int stripe = gate.enter();
        if (stripe >= 0) {
            try {
                if (fast(offset, 1)) {
                    return segment.get(ValueLayout.JAVA_BYTE, offset);
                }
            } finally {
                gate.leave(stripe);
            }
        }
        return throughKernel(offset, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    /**
     * The int at {@code offset}, in native byte order (see the class comment), at any alignment.
     *
     * @param offset the first byte's offset
     * @return the int, in native byte order
     */
    public int getInt(long offset) {
        checkRange(offset, 4);
        int stripe = gate.enter();
        if (stripe >= 0) {
            try {
                if (fast(offset, 4)) {
                    return segment.get(ValueLayout.JAVA_INT_UNALIGNED, offset);
                }
            } finally {
                gate.leave(stripe);
            }
        }
        return throughKernel(offset, 4).get(ValueLayout.JAVA_INT_UNALIGNED, 0);
    }

    /**
     * The long at {@code offset}, in native byte order (see the class comment), at any alignment.
     *
     * @param offset the first byte's offset
     * @return the long, in native byte order
     */
    public long getLong(long offset) {
        checkRange(offset, 8);
        int stripe = gate.enter();
        if (stripe >= 0) {
            try {
                if (fast(offset, 8)) {
                    return segment.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
                }
            } finally {
                gate.leave(stripe);
            }
        }
        return throughKernel(offset, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
    }

    /**
     * Copies {@code dst.byteSize()} bytes from {@code offset} into {@code dst} (off-heap or heap).
     *
     * @param offset the first byte to copy
     * @param dst where the bytes go
     */
    public void copyTo(long offset, MemorySegment dst) {
        long n = dst.byteSize();
        checkRange(offset, n);
        for (long done = 0; done < n; ) {
            long chunk = Math.min(CHUNK, n - done);
            copyChunk(offset + done, dst, done, chunk);
            done += chunk;
        }
    }

    /**
     * Copies {@code length} bytes from {@code offset} into {@code dst[dstIndex...]}.
     *
     * @param offset the first byte to copy
     * @param dst where the bytes go
     * @param dstIndex the first index of {@code dst} to write
     * @param length the bytes to copy
     */
    public void copyTo(long offset, byte[] dst, int dstIndex, int length) {
        Objects.checkFromIndexSize(dstIndex, length, dst.length);
        copyTo(offset, MemorySegment.ofArray(dst).asSlice(dstIndex, length));
    }

    /**
     * {@code [offset, offset + length)}, loaded: plain Java access to the slice is safe until its
     * pages are zapped. A zap is {@link Region#reset}, madvise(MADV_DONTNEED / MADV_REMOVE /
     * MADV_FREE) on the memory, and, for {@linkplain Builder#shared shared} memory, also a hole
     * punched into it or reclaim under memory pressure. After a zap, touching the slice from Java
     * may take a fault this JVM serves itself, which a safepoint can turn into a JVM-wide freeze:
     * take a new slice (or use the accessors, which stay safe whatever runs concurrently).
     *
     * @param offset the first byte
     * @param length the length in bytes
     * @return the loaded slice
     */
    public MemorySegment slice(long offset, long length) {
        checkRange(offset, length);
        if (length > 0 && !isLoaded(offset, length)) {
            region.load(offset, length);
        }
        return segment.asSlice(offset, length);
    }

    /**
     * Whether [offset, offset + length) may be loaded from Java now: called inside the gate, so no
     * zap can come until the caller leaves it.
     */
    private boolean fast(long offset, long length) {
        PageTable pages = region.pages();
        return pages.trusted() && pages.allPresent((int) (offset >>> pageShift),
                (int) ((offset + length - 1) >>> pageShift) + 1);
    }

    private void copyChunk(long offset, MemorySegment dst, long dstOffset, long length) {
        int stripe = gate.enter();
        if (stripe >= 0) {
            try {
                if (fast(offset, length)) {
                    MemorySegment.copy(segment, offset, dst, dstOffset, length);
                    return;
                }
            } finally {
                gate.leave(stripe);
            }
        }
        if (dst.isNative()) {
            readThroughKernel(offset, dst.asSlice(dstOffset, length));
        } else {
            MemorySegment.copy(throughKernel(offset, length), 0, dst, dstOffset, length);
        }
    }

    /** Reads {@code length} (at most {@link #CHUNK}) bytes through the kernel into this thread's bounce buffer. */
    private MemorySegment throughKernel(long offset, long length) {
        MemorySegment b = BOUNCE.get().asSlice(0, length);
        readThroughKernel(offset, b);
        return b;
    }

    /**
     * The slow path: the kernel copies the bytes (process_vm_readv), faulting missing pages in
     * while this thread waits in native code, where a fault cannot hold up a safepoint; a failed
     * page is an error there, not a signal.
     */
    private void readThroughKernel(long offset, MemorySegment dst) {
        region.checkServedForLoad((int) (offset >>> pageShift));
        try {
            Memory.readThroughKernel(region.address() + offset, dst);
        } catch (UffdException x) {
            int from = (int) (offset >>> pageShift);
            int to = (int) ((offset + dst.byteSize() - 1) >>> pageShift) + 1;
            throw region.loadFailure(from, to, x);
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException("[" + offset + ", " + (offset + length) + ") is outside the "
                    + size + " bytes of this LazySegment");
        }
        if (service.isClosed()) {
            throw new IllegalStateException("this LazySegment is closed");
        }
    }

    /** Stops the service (pending loads are finished or failed, the threads stop) and unmaps the memory. Idempotent. */
    @Override
    public void close() {
        service.close();
        if (mapping != null && mapping.isOpen()) {
            mapping.close();
        }
        if (shared != null) {
            shared.close();
        }
    }

    @Override
    public String toString() {
        return "LazySegment[" + size + " bytes, " + region + "]";
    }
}
