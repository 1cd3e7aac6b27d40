package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;

/**
 * Where page contents come from: a file, a decompressor, the network, a computation.
 *
 * <p>The runtime calls {@link #fill} on one of its handler threads (or its background filler)
 * with a page-aligned {@code offset} into the region and a {@code destination} whose size is a
 * whole number of pages (one page, or a fault-around / readahead block). The method must fill
 * all of {@code destination} and return; whatever it leaves there becomes the page contents.
 * It may be called concurrently for different offsets, never twice for a page that is present.
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
     */
    void fill(long offset, MemorySegment destination) throws Exception;
}
