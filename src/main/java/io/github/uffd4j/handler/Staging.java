package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A loader thread's private buffer that page sources write into before the contents are
 * installed (UFFDIO_COPY from it, or a copy into the page cache before UFFDIO_CONTINUE). It is
 * zeroed before every fill, so whatever a source leaves unwritten reads as zeros, never as bytes
 * of another page. Slices are made once per size: the fault path allocates nothing. Confined to
 * its thread.
 */
final class Staging implements AutoCloseable {

    private Arena arena = Arena.ofConfined();
    private MemorySegment buffer;
    private MemorySegment[] slices = new MemorySegment[0];
    private long slicePageSize;

    Staging(long bytes) {
        buffer = arena.allocate(Math.max(bytes, Memory.pageSize()), Memory.pageSize());
    }

    /** The first {@code pages} pages of {@code pageSize} bytes, zeroed. */
    MemorySegment zeroed(int pages, long pageSize) {
        MemorySegment s = slice(pages, pageSize);
        s.fill((byte) 0);
        return s;
    }

    /** The first {@code pages} pages of {@code pageSize} bytes, as they are (for a fault handler's own use). */
    MemorySegment slice(int pages, long pageSize) {
        long bytes = (long) pages * pageSize;
        if (buffer.byteSize() < bytes) {
            arena.close();
            arena = Arena.ofConfined();
            buffer = arena.allocate(bytes, Memory.pageSize());
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
            s = buffer.asSlice(0, bytes);
            slices[pages] = s;
        }
        return s;
    }

    @Override
    public void close() {
        arena.close();
    }
}
