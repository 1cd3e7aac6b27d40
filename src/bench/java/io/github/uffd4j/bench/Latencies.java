package io.github.uffd4j.bench;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The touch latencies of the current JMH iteration, one preallocated {@link Recorder} per touching
 * thread (recording allocates nothing), read by {@link LatencyProfiler} when the iteration ends.
 * The C reference keeps its samples the same way, so the percentiles compare like with like.
 */
final class Latencies {

    /** Samples kept per thread and iteration; later ones are dropped (counted, not stored). */
    static final int MAX_SAMPLES = 1 << 20;

    private static final List<Recorder> RECORDERS = new CopyOnWriteArrayList<>();
    private static final AtomicLong FAULTS = new AtomicLong();

    private Latencies() {
    }

    /** One thread's samples. Only its owner writes; the profiler reads between iterations. */
    static final class Recorder {
        private final long[] samples = new long[MAX_SAMPLES];
        private int count;

        void record(long nanos) {
            if (count < samples.length) {
                samples[count++] = nanos;
            }
        }
    }

    static Recorder register() {
        Recorder r = new Recorder();
        RECORDERS.add(r);
        return r;
    }

    static void unregister(Recorder r) {
        RECORDERS.remove(r);
    }

    /** Kernel faults served during the iteration, for benchmarks whose op is not one fault. */
    static void addFaults(long n) {
        FAULTS.addAndGet(n);
    }

    static void reset() {
        for (Recorder r : RECORDERS) {
            r.count = 0;
        }
        FAULTS.set(0);
    }

    static long faults() {
        return FAULTS.get();
    }

    /** The {@code quantiles} of every sample recorded since {@link #reset()}, or null if there are none. */
    static long[] quantiles(double... quantiles) {
        int n = 0;
        for (Recorder r : RECORDERS) {
            n += r.count;
        }
        if (n == 0) {
            return null;
        }
        long[] all = new long[n];
        int at = 0;
        for (Recorder r : RECORDERS) {
            System.arraycopy(r.samples, 0, all, at, r.count);
            at += r.count;
        }
        Arrays.sort(all);
        long[] out = new long[quantiles.length];
        for (int i = 0; i < quantiles.length; i++) {
            out[i] = all[(int) (quantiles[i] * (n - 1))];
        }
        return out;
    }
}
