package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;

/**
 * Called on a write-protect fault, before the runtime removes the protection and wakes the
 * writer: the place for copy-before-write (live snapshots). {@code page} is the page about to be
 * written, still holding its old contents; read it (reading does not fault), do not keep it.
 * Implementations must be thread safe: handler threads call it concurrently for different pages.
 */
@FunctionalInterface
public interface WriteFaultHook {

    /**
     * Runs before the write to the page at {@code offset} of {@code region} goes ahead.
     *
     * @param region the region written to
     * @param offset the page's offset in the region
     * @param page the page, with its contents before the write
     * @throws Exception reported as a {@link FaultFailure}; the write goes ahead all the same
     */
    void beforeWrite(Region region, long offset, MemorySegment page) throws Exception;
}
