package io.github.uffd4j.bench;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * JMH profiler ({@code -prof io.github.uffd4j.bench.LatencyProfiler}) that reports, per
 * iteration, the median and 99th percentile of the touch latencies the benchmarks record
 * ({@code lat.p50}, {@code lat.p99}, nanoseconds) and, where a benchmark counts them, the kernel
 * faults per operation ({@code faults.per.op}). JMH averages them over the measurement iterations,
 * as the C reference does.
 *
 * <p>It also reports {@code handler.alloc.norm}: the bytes allocated per op by the threads that
 * serve faults (the benchmarks' handler thread and the runtime's handler, filler and watchdog
 * threads, all named {@code uffd4j-*}), from the JVM's per-thread allocation counters. JMH's gc
 * profiler counts every thread, its own harness included; this isolates the fault path.
 */
public final class LatencyProfiler implements InternalProfiler {

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    private final java.util.Map<Long, Long> allocatedBefore = new java.util.HashMap<>();

    private long[] serviceThreadIds() {
        return java.util.Arrays.stream(threads.getThreadInfo(threads.getAllThreadIds()))
                .filter(i -> i != null && i.getThreadName().startsWith("uffd4j-"))
                .mapToLong(java.lang.management.ThreadInfo::getThreadId).toArray();
    }

    @Override
    public String getDescription() {
        return "touch latency percentiles and faults per op, as recorded by the uffd4j benchmarks";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        Latencies.reset();
        allocatedBefore.clear();
        for (long id : serviceThreadIds()) {
            allocatedBefore.put(id, threads.getThreadAllocatedBytes(id));
        }
    }

    @Override
    @SuppressWarnings("rawtypes") // JMH's InternalProfiler declares the raw Result
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
                                                       IterationResult result) {
        List<Result> out = new ArrayList<>();
        long[] q = Latencies.quantiles(0.50, 0.99);
        if (q != null) {
            out.add(new ScalarResult("lat.p50", q[0], "ns", AggregationPolicy.AVG));
            out.add(new ScalarResult("lat.p99", q[1], "ns", AggregationPolicy.AVG));
        }
        long ops = result.getMetadata() != null ? result.getMetadata().getMeasuredOps() : 0;
        long[] ids = serviceThreadIds();
        if (ids.length > 0 && ops > 0) {
            long bytes = 0;
            for (long id : ids) {
                long now = threads.getThreadAllocatedBytes(id);
                if (now >= 0) {
                    bytes += now - allocatedBefore.getOrDefault(id, 0L);
                }
            }
            out.add(new ScalarResult("handler.alloc.norm", (double) bytes / ops, "B/op", AggregationPolicy.AVG));
        }
        long faults = Latencies.faults();
        if (faults > 0 && ops > 0) {
            out.add(new ScalarResult("faults.per.op", (double) faults / ops, "faults/op", AggregationPolicy.AVG));
        }
        return out;
    }
}
