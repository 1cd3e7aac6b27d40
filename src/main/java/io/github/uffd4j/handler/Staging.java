package io.github.uffd4j.handler;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A loader thread's private buffer that page sources write into before the contents are
 * installed (UFFDIO_COPY or UFFDIO_MOVE from it, or a copy into the page cache before
 * UFFDIO_CONTINUE). It is zeroed before every fill, so whatever a source leaves unwritten reads as
 * zeros, never as bytes of another page. Where transparent huge pages are on, it is aligned to
 * their size and advised MADV_HUGEPAGE, so that a whole aligned block of a region can be moved
 * into place with one entry ({@link HugeUnits}); the part of it moved out is known to read as
 * zeros and is not zeroed again. Slices are made once per size: the fault path allocates
 * nothing. Confined to its thread.
 */
final class Staging implements AutoCloseable {

    private Mapping mapping;
    private MemorySegment[] slices = new MemorySegment[0];
    private long slicePageSize;
    /** Bytes from the start that UFFDIO_MOVE took away since the last fill: unpopulated, so zeros. */
    private long movedPrefix;

    Staging(long bytes) {
        mapping = map(Math.max(bytes, Memory.pageSize()));
    }

    private static Mapping map(long bytes) {
        long unit = HugeUnits.unitBytes();
        if (unit == 0) {
            return Memory.anonymous(bytes);
        }
        Mapping m = Memory.anonymousAligned(Memory.roundUp(bytes, unit), unit);
        HugeUnits.advise(m); // refused: base pages, still a working buffer
        return m;
    }

    /** The first {@code pages} pages of {@code pageSize} bytes, zeroed. */
    MemorySegment zeroed(int pages, long pageSize) {
        long moved = movedPrefix;
        MemorySegment s = slice(pages, pageSize);
        if (moved < s.byteSize()) {
            s.asSlice(moved).fill((byte) 0); // what was moved out reads as zeros already
        }
        return s;
    }

    /**
     * The first {@code pages} pages of {@code pageSize} bytes, as they are: about to be written (by a
     * source, or by a fault handler for its own use).
     */
    MemorySegment slice(int pages, long pageSize) {
        movedPrefix = 0;
        long bytes = (long) pages * pageSize;
        if (mapping.byteSize() < bytes) {
            mapping.close();
            mapping = map(bytes);
            slices = new MemorySegment[0];
        }
        if (pageSize != slicePageSize) {
            slices = new MemorySegment[0];
            slicePageSize = pageSize;
        }
        if (pages >= slices.length) {
            slices = Arrays.copyOf(slices, Math.max(pages + 1, slices.length * 2));
        }
        MemorySegment s = slices[pages];
        if (s == null) {
            s = mapping.segment().asSlice(0, bytes);
            slices[pages] = s;
        }
        return s;
    }

    /** UFFDIO_MOVE took {@code [offset, offset + length)} of the buffer away (it reads as zeros now). */
    void moved(long offset, long length) {
        if (offset == movedPrefix) {
            movedPrefix = offset + length;
        }
    }

    @Override
    public void close() {
        mapping.close();
    }
}
