package io.github.uffd4j.handler;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A lock-free, allocation-free histogram of durations in nanoseconds: log-linear buckets (eight
 * per power of two, so any value is known within 12.5%), from 1 ns to about 9 minutes; longer
 * values land in the last bucket. Recording is one atomic add.
 */
public final class LatencyHistogram {

    private static final int SUB_BITS = 3;
    private static final int SUB = 1 << SUB_BITS;
    private static final int EXPONENTS = 40;
    private static final int BUCKETS = EXPONENTS * SUB;

    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS);

    /** Records one duration. */
    public void record(long nanos) {
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
    public Snapshot snapshot() {
        long[] c = new long[BUCKETS];
        for (int i = 0; i < BUCKETS; i++) {
            c[i] = counts.get(i);
        }
        return new Snapshot(c);
    }

    /** Counts at one moment. */
    public static final class Snapshot {
        private final long[] counts;
        private final long total;

        Snapshot(long[] counts) {
            this.counts = counts;
            long t = 0;
            for (long c : counts) {
                t += c;
            }
            this.total = t;
        }

        /** Number of values recorded. */
        public long count() {
            return total;
        }

        /**
         * The value at percentile {@code p} (0 to 100), as the upper bound of its bucket;
         * 0 when nothing was recorded.
         */
        public long percentile(double p) {
            if (p < 0 || p > 100) {
                throw new IllegalArgumentException("percentile must be in [0, 100], not " + p);
            }
            if (total == 0) {
                return 0;
            }
            long rank = Math.max(1, (long) Math.ceil(p / 100.0 * total));
            long seen = 0;
            for (int i = 0; i < counts.length; i++) {
                seen += counts[i];
                if (seen >= rank) {
                    return upperBound(i);
                }
            }
            return upperBound(counts.length - 1);
        }

        /** The largest value recorded, within its bucket's precision. */
        public long max() {
            return percentile(100);
        }

        @Override
        public String toString() {
            return String.format("n=%d p50=%.1fus p90=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus", total,
                    percentile(50) / 1e3, percentile(90) / 1e3, percentile(99) / 1e3, percentile(99.9) / 1e3, max() / 1e3);
        }
    }
}
