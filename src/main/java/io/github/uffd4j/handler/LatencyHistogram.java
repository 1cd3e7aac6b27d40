package io.github.uffd4j.handler;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A lock-free, allocation-free histogram of durations in nanoseconds: log-linear buckets (eight
 * per power of two, so any value is known within 12.5%), from 1 ns to about 9 minutes; longer
 * values land in the last bucket. Recording is one atomic add. The service records into one;
 * users see {@link LatencySnapshot}s of it.
 */
final class LatencyHistogram {

    private static final int SUB_BITS = 3;
    private static final int SUB = 1 << SUB_BITS;
    private static final int EXPONENTS = 40;
    static final int BUCKETS = EXPONENTS * SUB;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);

    /** Records one duration. */
    void record(long nanos) {
        counts.getAndIncrement(bucket(Math.max(1, nanos)));
    }

    static int bucket(long v) {
        int exp = 63 - Long.numberOfLeadingZeros(v);
        if (exp < SUB_BITS) {
            return (int) v;
        }
        int sub = (int) ((v >>> (exp - SUB_BITS)) & (SUB - 1));
        int b = (exp - SUB_BITS + 1) * SUB + sub;
        return Math.min(b, BUCKETS - 1);
    }

    /** The largest value that falls into bucket {@code b}. */
    static long upperBound(int b) {
        if (b < SUB) {
            return b;
        }
        int exp = b / SUB - 1 + SUB_BITS;
        long sub = b % SUB;
        return ((SUB + sub + 1) << (exp - SUB_BITS)) - 1;
    }

    /** A consistent-enough copy of the counts, for percentiles. */
    LatencySnapshot snapshot() {
        long[] c = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            c[i] = counts.get(i);
        }
        return new LatencySnapshot(c);
    }
}
