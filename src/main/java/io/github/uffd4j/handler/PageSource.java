package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;

/**
 * Where page contents come from: a file, a decompressor, the network, a computation.
 *
 * <p>The runtime calls {@link #fill} on one of its handler threads (or its background filler)
 * with a page-aligned {@code offset} into the region and a {@code destination} whose size is a
 * whole number of pages (one page, or a fault-around / readahead block). The method must fill
 * all of {@code destination} and return. {@code destination} is zeroed before each call, so any
 * part the source leaves unwritten reads as zeros (a file shorter than the region, say), never
 * as another page's bytes. It is private to the call: in MINOR mode the contents reach the page
 * cache only after the call returns and only if the attempt is still current, so an attempt the
 * watchdog abandoned can never change a page already served. Implementations must be thread
 * safe: the source is called concurrently for different offsets (never twice at once for the
 * same page), and the thread's interrupt status is cleared before and after each call.
 *
 * <p>Two rules: never read or write the region being served (the handler thread would fault
 * on its own memory; the runtime detects it and fails the fault, see
 * {@link FaultService}), and do not keep {@code destination}: it is reused after the call.
 * Throwing, or running past the {@link FailurePolicy#timeout() timeout}, fails the attempt; the
 * {@link FailurePolicy} decides what happens next.
 */
@FunctionalInterface
public interface PageSource {

    /**
     * Fills {@code destination} with the bytes at {@code [offset, offset + destination.byteSize())}
     * of the region.
     *
     * @param offset the region offset of the first byte to fill, page aligned
     * @param destination whole pages to fill; reused after the call
     * @throws Exception any failure: a failed attempt, handled by the {@link FailurePolicy}
     */
    void fill(long offset, MemorySegment destination) throws Exception;

    /**
     * Whether every {@link #fill} that returns normally has written every byte of its
     * destination. Then the runtime does not zero the destination before the call (one pass over
     * the memory less per fault). Say
     * so only if no path through {@code fill} that returns normally can leave a byte unwritten:
     * such a byte would read as whatever an earlier call left in the reused buffer (a fill that
     * throws is never installed, so it may stop anywhere). The default, false, keeps the zeroing.
     * The sources in {@code io.github.uffd4j.source} all say true.
     *
     * @return true only when every normal return of {@code fill} wrote every byte (default false)
     */
    default boolean writesEveryByte() {
        return false;
    }
}
