package io.github.uffd4j.handler;

import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;

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
 * <p>Read through the accessors ({@link #getByte}, {@link #getLong}, {@link #copyTo},
 * {@link #slice}, {@link #load}): they check the page state and bring missing pages in from a
 * native call, which is safe for the JVM (see {@link Region}). Accessing {@link #segment()}
 * directly is fine for pages already loaded, and for native code and system calls anywhere.
 */
public final class LazySegment implements AutoCloseable {

    private final FaultService service;
    private final Region region;
    private final Mapping mapping;
    private final SharedMemory shared;
    private final MemorySegment segment;
    private final long size;
    private final int pageShift;

    private LazySegment(FaultService service, Region region, Mapping mapping, SharedMemory shared, long size) {
        this.service = service;
        this.region = region;
        this.mapping = mapping;
        this.shared = shared;
        this.segment = region.memory().asSlice(0, size);
        this.size = size;
        this.pageShift = region.pageShift;
    }

    /** {@code size} bytes of anonymous memory filled on demand by {@code source}, with default settings. */
    public static LazySegment open(long size, PageSource source) {
        return builder(size, source).open();
    }

    /** Settings for a lazy segment of {@code size} bytes over {@code source}. */
    public static Builder builder(long size, PageSource source) {
        return new Builder(size, source);
    }

    /** Settings of a {@link LazySegment}. */
    public static final class Builder {
        private final long size;
        private final PageSource source;
        private final FaultService.Builder service = FaultService.builder();
        private HugePageSize hugePages;
        private boolean shared;
        private String name = "lazy-segment";

        private Builder(long size, PageSource source) {
            if (size <= 0) {
                throw new IllegalArgumentException("size must be positive, not " + size);
            }
            this.size = size;
            this.source = Objects.requireNonNull(source, "source");
        }

        /** Handler threads (default 2). */
        public Builder threads(int n) {
            service.threads(n);
            return this;
        }

        /** Bytes loaded around a random fault (default 64 KiB). */
        public Builder faultAround(long bytes) {
            service.faultAround(bytes);
            return this;
        }

        /** Largest sequential readahead block (default 2 MiB). */
        public Builder maxReadahead(long bytes) {
            service.maxReadahead(bytes);
            return this;
        }

        /** Whether a background thread loads everything not yet asked for (default off). */
        public Builder backgroundFill(boolean on) {
            service.backgroundFill(on);
            return this;
        }

        /** What to do when the source fails or times out (default {@link FailurePolicy#DEFAULT}). */
        public Builder failurePolicy(FailurePolicy policy) {
            service.failurePolicy(policy);
            return this;
        }

        /** How long close() lets pending loads finish (default 5 s). */
        public Builder closeTimeout(Duration timeout) {
            service.closeTimeout(timeout);
            return this;
        }

        /** Called for every {@link FaultFailure}. */
        public Builder onFailure(java.util.function.Consumer<FaultFailure> listener) {
            service.onFailure(listener);
            return this;
        }

        /** Back the segment with huge pages of this size (reserved beforehand; see {@link Memory#reserveHugePages}). */
        public Builder hugePages(HugePageSize pageSize) {
            this.hugePages = pageSize;
            return this;
        }

        /**
         * Back the segment with shared memory (a memfd) served in MINOR mode: the source writes
         * straight into the page cache and UFFDIO_CONTINUE maps it; {@link #sharedMemory()} can be
         * handed to other processes.
         */
        public Builder shared(boolean on) {
            this.shared = on;
            return this;
        }

        /** A name for logs and JFR. */
        public Builder name(String name) {
            this.name = Objects.requireNonNull(name, "name");
            return this;
        }

        /** Maps the memory, starts the service and registers the memory with it. */
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
                    m = hugePages != null ? Memory.hugetlb(mapped, hugePages) : Memory.anonymous(mapped);
                    r = s.region(m.segment()).pageSize(page).source(source).name(name).register();
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

    /** Size in bytes. */
    public long byteSize() {
        return size;
    }

    /** The memory itself. Read it directly only where {@link #isLoaded} (or after {@link #load}); see the class comment. */
    public MemorySegment segment() {
        return segment;
    }

    /** The region, for its page state. */
    public Region region() {
        return region;
    }

    /** The service serving it. */
    public FaultService service() {
        return service;
    }

    /** The counters of its service. */
    public FaultStats stats() {
        return service.stats();
    }

    /** The shared memory behind it, when built with {@link Builder#shared}. */
    public SharedMemory sharedMemory() {
        if (shared == null) {
            throw new IllegalStateException("this LazySegment is anonymous memory; build it with shared(true)");
        }
        return shared;
    }

    /** Whether every page of {@code [offset, offset + length)} is loaded. */
    public boolean isLoaded(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return true;
        }
        for (long p = offset >>> pageShift, last = (offset + length - 1) >>> pageShift; p <= last; p++) {
            if (!Region.isPresentState(region.stateAcquire((int) p))) {
                return false;
            }
        }
        return true;
    }

    /** Loads {@code [offset, offset + length)} if needed; afterwards plain Java access to it is safe. */
    public void load(long offset, long length) {
        checkRange(offset, length);
        region.load(offset, length);
    }

    /** The byte at {@code offset}. */
    public byte getByte(long offset) {
        ensure(offset, 1);
        return segment.get(ValueLayout.JAVA_BYTE, offset);
    }

    /** The int at {@code offset} (native byte order, any alignment). */
    public int getInt(long offset) {
        ensure(offset, 4);
        return segment.get(ValueLayout.JAVA_INT_UNALIGNED, offset);
    }

    /** The long at {@code offset} (native byte order, any alignment). */
    public long getLong(long offset) {
        ensure(offset, 8);
        return segment.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
    }

    /** Copies {@code dst.byteSize()} bytes from {@code offset} into {@code dst}. */
    public void copyTo(long offset, MemorySegment dst) {
        long n = dst.byteSize();
        ensure(offset, n);
        MemorySegment.copy(segment, offset, dst, 0, n);
    }

    /** Copies {@code length} bytes from {@code offset} into {@code dst[dstIndex...]}. */
    public void copyTo(long offset, byte[] dst, int dstIndex, int length) {
        Objects.checkFromIndexSize(dstIndex, length, dst.length);
        ensure(offset, length);
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, offset, dst, dstIndex, length);
    }

    /** {@code [offset, offset + length)}, loaded: plain Java access to the slice is safe. */
    public MemorySegment slice(long offset, long length) {
        ensure(offset, length);
        return segment.asSlice(offset, length);
    }

    private void ensure(long offset, long length) {
        checkRange(offset, length);
        if (length == 0) {
            return;
        }
        long first = offset >>> pageShift;
        long last = (offset + length - 1) >>> pageShift;
        if (first == last && Region.isPresentState(region.stateAcquire((int) first))) {
            return;
        }
        region.load(offset, length);
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
