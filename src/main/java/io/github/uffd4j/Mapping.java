package io.github.uffd4j;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A range of virtual memory mapped by uffd4j (mmap), with the madvise and mremap operations that
 * userfaultfd users need. {@link #close()} unmaps it; after that, {@link #segment()} accesses
 * fail with an {@link IllegalStateException} instead of touching unmapped memory.
 */
public final class Mapping implements AutoCloseable {

    /** What backs the mapping. */
    public enum Kind {
        /** Private anonymous memory. */
        ANONYMOUS,
        /** A shared mapping of shmem (a memfd). */
        SHMEM,
        /** Private anonymous hugetlb memory. */
        HUGETLB,
        /** A shared mapping of a hugetlbfs memfd. */
        SHARED_HUGETLB
    }

    private final Arena arena;
    private final MemorySegment segment;
    private final long address;
    private final long size;
    private final long pageSize;
    private final Kind kind;
    private final AtomicBoolean unmapOnClose = new AtomicBoolean(true);

    Mapping(long address, long size, long pageSize, Kind kind) {
        this.arena = Arena.ofShared();
        this.address = address;
        this.size = size;
        this.pageSize = pageSize;
        this.kind = kind;
        this.segment = Native.segment(address, size, arena, s -> {
            if (unmapOnClose.get()) {
                Native.munmap(address, size);
            }
        });
    }

    /** The mapped memory; inaccessible once the mapping is closed. */
    public MemorySegment segment() {
        return segment;
    }

    /** The start address. */
    public long address() {
        return address;
    }

    /** The size in bytes. */
    public long byteSize() {
        return size;
    }

    /** The page size of the mapping (the huge page size for hugetlb). */
    public long pageSize() {
        return pageSize;
    }

    /** What backs the mapping. */
    public Kind kind() {
        return kind;
    }

    /** Whether the mapping is shared memory (shmem or hugetlbfs file), the kind MINOR mode works on. */
    public boolean isShared() {
        return kind == Kind.SHMEM || kind == Kind.SHARED_HUGETLB;
    }

    /** Whether it is backed by huge pages. */
    public boolean isHugetlb() {
        return kind == Kind.HUGETLB || kind == Kind.SHARED_HUGETLB;
    }

    /** Whether it is still mapped. */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /** {@code [offset, offset + length)} of this mapping as a segment. */
    public MemorySegment slice(long offset, long length) {
        return segment.asSlice(offset, length);
    }

    /**
     * madvise(MADV_DONTNEED): drops the pages of the range. Private memory reads back as missing
     * (a registered range reports MISSING faults again, after a REMOVE event); shared memory keeps
     * its contents in the page cache (a MINOR-registered range reports minor faults).
     */
    public void dontNeed(long offset, long length) {
        advise("madvise(MADV_DONTNEED)", offset, length, UffdNative.MADV_DONTNEED());
    }

    /** madvise(MADV_REMOVE): frees the range and its backing store (shmem, hugetlbfs). */
    public void remove(long offset, long length) {
        advise("madvise(MADV_REMOVE)", offset, length, UffdNative.MADV_REMOVE());
    }

    /** madvise(MADV_POPULATE_READ): faults the range in for reading (Linux 5.14+). */
    public void populateRead(long offset, long length) {
        advise("madvise(MADV_POPULATE_READ)", offset, length, UffdNative.MADV_POPULATE_READ());
    }

    /** madvise(MADV_POPULATE_WRITE): faults the range in for writing (Linux 5.14+). */
    public void populateWrite(long offset, long length) {
        advise("madvise(MADV_POPULATE_WRITE)", offset, length, UffdNative.MADV_POPULATE_WRITE());
    }

    private void advise(String call, long offset, long length, int advice) {
        checkSubrange(call, offset, length);
        Memory.madvise(call, address + offset, length, advice);
    }

    private void checkSubrange(String call, long offset, long length) {
        if (!isOpen()) {
            throw new IllegalStateException(call + ": the mapping is closed");
        }
        if (offset < 0 || length <= 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(call + ": [" + offset + ", " + (offset + length)
                    + ") is outside the mapping of " + size + " bytes");
        }
        if (offset % pageSize != 0 || length % pageSize != 0) {
            throw new IllegalArgumentException(call + ": offset " + offset + " and length " + length
                    + " must be multiples of the page size " + pageSize);
        }
    }

    /**
     * mremap(MREMAP_MAYMOVE): moves and/or resizes the mapping. This mapping is closed (its
     * segment becomes inaccessible) and the returned one owns the memory. A registered range
     * moves with it (a REMAP event tells the userfaultfd, with {@link Feature#EVENT_REMAP}).
     */
    public Mapping remap(long newSize) {
        return remap(newSize, 0);
    }

    /** Like {@link #remap(long)}, to the fixed address {@code newAddress} (MREMAP_FIXED) when not 0. */
    public Mapping remap(long newSize, long newAddress) {
        if (newSize <= 0 || newSize % pageSize != 0) {
            throw new IllegalArgumentException("mremap: new size " + newSize + " must be a positive multiple of " + pageSize);
        }
        if (!isOpen()) {
            throw new IllegalStateException("mremap: the mapping is closed");
        }
        int flags = UffdNative.MREMAP_MAYMOVE() | (newAddress != 0 ? UffdNative.MREMAP_FIXED() : 0);
        long moved = Native.mremap(address, size, newSize, flags, newAddress);
        if (moved == -1) {
            throw Failures.of("mremap", Native.errno(), address, size, 0);
        }
        unmapOnClose.set(false);
        arena.close();
        return new Mapping(moved, newSize, pageSize, kind);
    }

    /**
     * Unmaps the memory. Waits for threads accessing the segment through FFM to finish their
     * access (a thread blocked in a userfaultfd fault on it delays this until the fault is served).
     *
     * @throws IllegalStateException if already closed
     */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "Mapping[" + kind + " 0x" + Long.toHexString(address) + " +" + size + (isOpen() ? "" : ", closed") + "]";
    }
}
