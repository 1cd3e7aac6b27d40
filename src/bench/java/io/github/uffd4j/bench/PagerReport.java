package io.github.uffd4j.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The report of {@code scripts/bench --pager}: from {@code jmh-pager-<pinning>.json}, faults/s
 * and latency of the handler in this JVM against one in another (the ratio and the added p50 the
 * pager issue aims at: at least 0.9 and at most +1 µs), and the time to safepoint under a GC loop
 * with and without faults served by another process. Prints markdown; with {@code --publish FILE}
 * also writes it between FILE's {@code <!-- pager:begin -->} and {@code <!-- pager:end -->}.
 *
 * <p>Arguments: RESULTS_DIR [--publish FILE]
 */
public final class PagerReport {

    private static final String BEGIN = "<!-- pager:begin -->";
    private static final String END = "<!-- pager:end -->";

    private record Run(String pinning, String benchmark, String param, double ops, double opsError, double p50, double p99,
                       double ttsp50, double ttsp99, double ttspMax, double safepoints) {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        List<Run> runs = new ArrayList<>();
        for (String pinning : List.of("same", "cross")) {
            Path f = dir.resolve("jmh-pager-" + pinning + ".json");
            if (Files.exists(f)) {
                runs.addAll(read(pinning, f));
            }
        }
        String report = markdown(runs);
        System.out.println(report);
        Files.writeString(dir.resolve("pager-report.md"), report, StandardCharsets.UTF_8);
        if (args.length >= 3 && args[1].equals("--publish")) {
            Path md = Path.of(args[2]);
            Report.publishTo(md, report, BEGIN, END);
            System.out.println("rewrote the pager section of " + md);
        }
    }

    private static List<Run> read(String pinning, Path file) throws IOException {
        List<Run> out = new ArrayList<>();
        for (JsonElement e : JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonArray()) {
            JsonObject run = e.getAsJsonObject();
            String benchmark = run.get("benchmark").getAsString();
            JsonObject params = run.getAsJsonObject("params");
            String param = params.entrySet().iterator().next().getValue().getAsString();
            JsonObject primary = run.getAsJsonObject("primaryMetric");
            JsonObject secondary = run.getAsJsonObject("secondaryMetrics");
            out.add(new Run(pinning, benchmark.substring(benchmark.lastIndexOf('.', benchmark.lastIndexOf('.') - 1) + 1),
                    param, primary.get("score").getAsDouble(), Report.number(primary.get("scoreError")),
                    Report.metric(secondary, "lat.p50"), Report.metric(secondary, "lat.p99"), Report.metric(secondary, "ttsp.p50"),
                    Report.metric(secondary, "ttsp.p99"), Report.metric(secondary, "ttsp.max"), Report.metric(secondary, "safepoints")));
        }
        return out;
    }

    static String markdown(List<Run> runs) {
        StringBuilder b = new StringBuilder();
        b.append("| pinning | handler | faults/s | p50 | p99 | faults/s vs in-process | p50 vs in-process |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|\n");
        for (Run r : runs) {
            if (!r.benchmark().startsWith("PagerBench")) {
                continue;
            }
            Run base = runs.stream().filter(x -> x.pinning().equals(r.pinning()) && x.benchmark().startsWith("PagerBench")
                    && x.param().equals("in-process")).findFirst().orElse(null);
            String ratio = base == null || r == base ? "" : f("%.2f", r.ops() / base.ops());
            String dp50 = base == null || r == base ? "" : f("%+.1f µs", (r.p50() - base.p50()) / 1e3);
            b.append(f("| %s | %s | %,.0f ± %,.0f | %.1f µs | %.1f µs | %s | %s |\n", r.pinning(), r.param(), r.ops(),
                    r.opsError(), r.p50() / 1e3, r.p99() / 1e3, ratio, dp50));
        }
        b.append("\n| pinning | Java threads fault on pages served by another JVM | touches/s | safepoints | time to safepoint p50 | p99 | max |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|\n");
        for (Run r : runs) {
            if (r.benchmark().startsWith("PagerSafepointBench")) {
                b.append(f("| %s | %s | %,.0f | %,.0f | %.1f µs | %.1f µs | %.1f µs |\n", r.pinning(),
                        r.param().equals("true") ? "yes (every touch faults)" : "no (pages present)", r.ops(), r.safepoints(),
                        r.ttsp50(), r.ttsp99(), r.ttspMax()));
            }
        }
        return b.toString();
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
