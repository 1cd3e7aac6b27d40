package io.github.uffd4j.handler;

/**
 * The fault latencies of a {@link FaultService} at one moment: log-linear buckets, eight per power
 * of two, so each value is known within 12.5%. Immutable.
 */
public final class LatencySnapshot {

    private final long[] counts;
    private final long total;

    LatencySnapshot(long[] counts) {
        this.counts = counts;
        long t = 0;
        for (long c : counts) {
            t += c;
        }
        this.total = t;
    }

    /**
     * A snapshot from the bucket counts another one gave ({@link #bucketCounts()}): how the
     * pager hands an app the latencies of its faults.
     *
     * @param counts the bucket counts, as {@link #bucketCounts()} returned them
     * @return the snapshot
     */
    public static LatencySnapshot ofBucketCounts(long[] counts) {
        if (counts.length != LatencyHistogram.BUCKETS) {
            throw new IllegalArgumentException("a latency snapshot has " + LatencyHistogram.BUCKETS + " buckets, not "
                    + counts.length);
        }
        for (long c : counts) {
            if (c < 0) {
                throw new IllegalArgumentException("a bucket count cannot be negative: " + c);
            }
        }
        return new LatencySnapshot(counts.clone());
    }

    /**
     * The count of each bucket (a copy), for {@link #ofBucketCounts} elsewhere.
     *
     * @return the counts, a new array
     */
    public long[] bucketCounts() {
        return counts.clone();
    }

    /**
     * Number of values recorded.
     *
     * @return the count
     */
    public long count() {
        return total;
    }

    /**
     * The value at percentile {@code p} (0 to 100), as the upper bound of its bucket;
     * 0 when nothing was recorded.
     *
     * @param p the percentile, 0 to 100
     * @return the value in nanoseconds
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
                return LatencyHistogram.upperBound(i);
            }
        }
        return LatencyHistogram.upperBound(counts.length - 1);
    }

    /**
     * The largest value recorded, within its bucket's precision.
     *
     * @return the largest value in nanoseconds
     */
    public long max() {
        return percentile(100);
    }

    @Override
    public String toString() {
        return String.format("n=%d p50=%.1fus p90=%.1fus p99=%.1fus p99.9=%.1fus max=%.1fus", total,
                percentile(50) / 1e3, percentile(90) / 1e3, percentile(99) / 1e3, percentile(99.9) / 1e3, max() / 1e3);
    }
}
