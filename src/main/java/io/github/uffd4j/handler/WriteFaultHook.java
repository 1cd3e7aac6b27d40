package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;

/**
 * Called on a write-protect fault, before the runtime removes the protection and wakes the
 * writer: the place for copy-before-write (live snapshots). {@code page} is the page about to be
 * written, still holding its old contents; read it (reading does not fault), do not keep it. In a
 * service of another process's userfaultfd ({@link FaultService.Builder#serve}) the page is that
 * process's: {@code page} is then this process's mapping of it when the region has an alias
 * (shared memory), else {@link MemorySegment#NULL}, and the hook reads the page itself
 * ({@link io.github.uffd4j.Pidfd#readMemory}).
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
