package io.github.uffd4j.handler;

import java.util.Arrays;

/**
 * Chooses the block of pages to load for a fault: the aligned fault-around block for a random
 * fault, a growing block for a fault that continues a sequential stream. Keeps a few streams,
 * replaced round robin. Thread safe (one lock; it is taken once per fault, not per page).
 */
final class Readahead {

    private static final int STREAMS = 4;

    private final int pageCount;
    private final int[] streamStart = new int[STREAMS];
    private final int[] streamNext = new int[STREAMS];
    private final int[] streamWindow = new int[STREAMS];
    /** How many times the stream continued: asynchronous readahead starts at the first. */
    private final int[] streamHits = new int[STREAMS];
    private int victim;

    Readahead(int pageCount) {
        this.pageCount = pageCount;
        Arrays.fill(streamNext, -1);
    }

    /**
     * The block to load for a fault on page {@code p}, packed as {@code start << 32 | end}. A
     * fault between the start of a stream's last block and one block past its end (a reader that
     * skipped over pages already present still counts) continues that stream: a block starting at
     * {@code p} twice as long as the last one, up to {@code maxPages}. Any other fault is random:
     * the aligned block of {@code basePages}, and a new stream replaces the oldest one. With
     * {@code unit} above 0 (pages {@code firstUnit + k * unit} start the blocks a loader can move
     * into place whole), a stream's block long enough to hold one ends where such a block starts,
     * so that the next one starts there and moves.
     */
    synchronized long block(int p, int basePages, int maxPages, int firstUnit, int unit) {
        for (int i = 0; i < STREAMS; i++) {
            int next = streamNext[i];
            if (next >= 0 && p >= streamStart[i] && (long) p < (long) next + streamWindow[i]) {
                int w = Math.min(maxPages, streamWindow[i] * 2);
                int end = (int) Math.min(pageCount, (long) p + w);
                if (unit > 0 && w >= unit && end < pageCount) {
                    int aligned = unitStartAtOrBefore(end, firstUnit, unit);
                    if (aligned > p) {
                        end = aligned;
                    }
                }
                streamStart[i] = p;
                streamNext[i] = Math.max(next, end); // what was requested ahead stays requested
                streamWindow[i] = w;
                streamHits[i]++;
                return ((long) p << 32) | end;
            }
        }
        int start = p - p % basePages;
        int end = (int) Math.min(pageCount, (long) start + basePages);
        int v = victim;
        victim = (v + 1) % STREAMS;
        streamStart[v] = start;
        streamNext[v] = end;
        streamWindow[v] = basePages;
        streamHits[v] = 0;
        return ((long) start << 32) | end;
    }

    /**
     * For a fault on page {@code p} of a stream that continued at least once (asked after
     * {@link #block}, or for a fault on a page being loaded ahead): the run to load
     * asynchronously so that {@code windows} of the stream's windows past {@code p} are asked
     * for, packed as {@code start << 32 | end}, or 0 when they are already; the stream counts the
     * run as asked for. With {@code unit} above 0 the run ends where a block a loader can move
     * into place starts (see {@link #block}).
     */
    synchronized long ahead(int p, int windows, int firstUnit, int unit) {
        for (int i = 0; i < STREAMS; i++) {
            int next = streamNext[i];
            if (next >= 0 && streamHits[i] > 0 && p >= streamStart[i] && (long) p < (long) next + streamWindow[i]) {
                int w = streamWindow[i];
                int target = (int) Math.min(pageCount, (long) p + (long) windows * w);
                if (unit > 0 && w >= unit && target < pageCount) {
                    target = unitStartAtOrBefore(target, firstUnit, unit);
                }
                if (target <= next) {
                    return 0;
                }
                streamNext[i] = target;
                return ((long) next << 32) | target;
            }
        }
        return 0;
    }

    /** The window of the stream page {@code p} belongs to (the size of the runs to ask for ahead), or 0. */
    synchronized int window(int p) {
        for (int i = 0; i < STREAMS; i++) {
            if (streamNext[i] >= 0 && p >= streamStart[i] && p < streamNext[i]) {
                return streamWindow[i];
            }
        }
        return 0;
    }

    /** The last page at or before {@code page} that starts a block of {@code unit} pages (pages {@code firstUnit + k * unit}). */
    static int unitStartAtOrBefore(int page, int firstUnit, int unit) {
        return page - Math.floorMod(page - firstUnit, unit);
    }
}
