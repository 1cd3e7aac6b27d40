package io.github.uffd4j.bench;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * JMH profiler ({@code -prof io.github.uffd4j.bench.SafepointProfiler}) for benchmarks that log
 * safepoints ({@code -Xlog:safepoint=info:file=}{@link #LOG_PATTERN}): per iteration, the
 * median, 99th percentile and maximum time to reach a safepoint ({@code ttsp.p50}, {@code
 * ttsp.p99}, {@code ttsp.max}, microseconds) and the number of safepoints, from the lines the
 * JVM wrote during the iteration.
 */
public final class SafepointProfiler implements InternalProfiler {

    /** Where the benchmark JVM logs its safepoints ({@code %p}: its pid). */
    static final String LOG_PATTERN = "target/bench/safepoint-%p.log";
    private static final Pattern REACHING = Pattern.compile("Reaching safepoint: (\\d+) ns");

    private long offset;

    private static Path log() {
        return Path.of(LOG_PATTERN.replace("%p", Long.toString(ProcessHandle.current().pid())));
    }

    @Override
    public String getDescription() {
        return "time to safepoint percentiles from -Xlog:safepoint (" + LOG_PATTERN + ")";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        offset = log().toFile().length();
    }

    @Override
    @SuppressWarnings("rawtypes") // JMH's InternalProfiler declares the raw Result
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
                                                       IterationResult result) {
        List<Result> out = new ArrayList<>();
        String text;
        try (RandomAccessFile f = new RandomAccessFile(log().toFile(), "r")) {
            long end = f.length();
            byte[] b = new byte[(int) Math.max(0, end - offset)];
            f.seek(offset);
            f.readFully(b);
            text = new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return out; // the benchmark does not log safepoints
        }
        Matcher m = REACHING.matcher(text);
        List<Long> ns = new ArrayList<>();
        while (m.find()) {
            ns.add(Long.parseLong(m.group(1)));
        }
        if (ns.isEmpty()) {
            return out;
        }
        long[] sorted = ns.stream().mapToLong(Long::longValue).sorted().toArray();
        out.add(new ScalarResult("ttsp.p50", sorted[(int) (0.50 * (sorted.length - 1))] / 1e3, "us", AggregationPolicy.AVG));
        out.add(new ScalarResult("ttsp.p99", sorted[(int) (0.99 * (sorted.length - 1))] / 1e3, "us", AggregationPolicy.AVG));
        out.add(new ScalarResult("ttsp.max", sorted[sorted.length - 1] / 1e3, "us", AggregationPolicy.MAX));
        out.add(new ScalarResult("safepoints", sorted.length, "#", AggregationPolicy.SUM));
        return out;
    }
}
