package io.github.uffd4j.bench;

import com.google.gson.Gson;
import io.github.uffd4j.demo.ToolVersion;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Turns one scripts/bench run (JMH's JSON and the C reference's CSV, per pinning) into the
 * side-by-side table, results.csv, results.json, chart.png and report.md; with
 * {@code --publish}, also the results section of BENCHMARKS.md.
 */
@Command(name = "report", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class,
        description = "Builds the Java/C benchmark report from the files of one scripts/bench run.")
public final class Report implements Callable<Integer> {

    @Option(names = "--results", required = true, description = "the run's folder (jmh-<pinning>.json, c-<pinning>.csv, machine.txt)")
    Path results;

    @Option(names = "--publish", description = "a BENCHMARKS.md whose results section (between its markers) is replaced")
    Path publish;

    static final String BEGIN = "<!-- results:begin -->";
    static final String END = "<!-- results:end -->";

    /** The pinnings, in column order: label and file suffix. */
    static final Map<String, String> PINNINGS = new LinkedHashMap<>();

    static {
        PINNINGS.put("same", "same CPU");
        PINNINGS.put("cross", "cross CPU");
    }

    /** Cases in table order: id, letter, what it does, the C case it is compared with. */
    record Spec(String id, String letter, String what, String cCase) {
    }

    static final List<Spec> SPECS = List.of(
            new Spec("copy4k-seq", "a", "MISSING + COPY 4 KiB, sequential", "copy4k-seq"),
            new Spec("copy4k-rand", "a", "MISSING + COPY 4 KiB, random", "copy4k-rand"),
            new Spec("rt-copy4k-seq", "a", "the same through the runtime (Region.load)", "copy4k-seq"),
            new Spec("copy64k-seq", "b", "MISSING + COPY 64 KiB block, sequential", "copy64k-seq"),
            new Spec("copy64k-rand", "b", "MISSING + COPY 64 KiB block, random", "copy64k-rand"),
            new Spec("zeropage", "c", "MISSING + ZEROPAGE", "zeropage"),
            new Spec("minor", "d", "MINOR + CONTINUE, shmem", "minor"),
            new Spec("wp", "e", "WP: unprotect on write", "wp"),
            new Spec("4threads", "f", "4 touching threads, batched reads", "4threads"),
            new Spec("scan-4k", "g", "runtime: lazy sequential scan, 4 KiB pages (GB/s vs C b seq)", "copy64k-seq"),
            new Spec("scan-2m", "g", "runtime: lazy sequential scan, 2 MiB hugetlb (GB/s vs C b seq)", "copy64k-seq"),
            new Spec("ioctl-copy", "h", "UFFDIO_COPY 4 KiB, no fault", "ioctl-copy"),
            new Spec("ioctl-wake", "h", "UFFDIO_WAKE, no waiter", "ioctl-wake"),
            new Spec("ioctl-wp", "h", "UFFDIO_WRITEPROTECT 4 KiB", "ioctl-wp"),
            new Spec("floor", "-", "first write to plain anonymous memory", "floor"),
            new Spec("ioctl-copy2m", "-", "C only: UFFDIO_COPY of 2 MiB blocks (the kernel's fill rate)", "ioctl-copy2m"));

    /** One measured case: ops/s (for scans: bytes/s as well), latency, allocation. */
    record Measure(double opsPerSec, double opsError, double bytesPerOp, double p50, double p99,
                   double allocPerOp, double handlerAllocPerOp, double faultsPerOp) {
        double bytesPerSec() {
            return opsPerSec * bytesPerOp;
        }
    }

    /** A table row: one case under one pinning. */
    record Row(Spec spec, String pinning, Measure java, Measure c) {
        double ratio() {
            if (java == null || c == null || c.opsPerSec == 0) {
                return Double.NaN;
            }
            return spec.id.startsWith("scan") ? java.bytesPerSec() / c.bytesPerSec() : java.opsPerSec / c.opsPerSec;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Report()).execute(args));
    }

    @Override
    public Integer call() throws IOException {
        List<Row> rows = new ArrayList<>();
        for (String pin : PINNINGS.keySet()) {
            Map<String, Measure> java = readJmh(results.resolve("jmh-" + pin + ".json"));
            Map<String, Measure> c = readC(results.resolve("c-" + pin + ".csv"));
            if (java.isEmpty() && c.isEmpty()) {
                continue;
            }
            for (Spec s : SPECS) {
                Measure j = java.get(s.id);
                Measure r = c.get(s.cCase);
                if (j != null || (r != null && s.id.equals(s.cCase))) {
                    rows.add(new Row(s, pin, j, r));
                }
            }
        }
        if (rows.isEmpty()) {
            System.err.println("no results in " + results + " (expected jmh-same.json / c-same.csv)");
            return 1;
        }
        String machine = Files.exists(results.resolve("machine.txt"))
                ? Files.readString(results.resolve("machine.txt"), StandardCharsets.UTF_8).strip() : "";
        String table = markdown(rows);
        System.out.println(table);
        writeCsv(rows, results.resolve("results.csv"));
        writeJson(rows, machine, results.resolve("results.json"));
        String chartProblem = drawChart(rows, results.resolve("chart.png"));
        if (chartProblem != null) {
            System.err.println("WARNING: chart.png not written: " + chartProblem + "; it needs fontconfig and a font"
                    + " (Debian: apt-get install fontconfig fonts-dejavu-core)");
        }
        String report = "Machine:\n\n```\n" + machine + "\n```\n\n" + table;
        Files.writeString(results.resolve("report.md"), report, StandardCharsets.UTF_8);
        System.out.println("wrote " + results.resolve("results.csv") + ", results.json, report.md"
                + (chartProblem == null ? ", chart.png" : ""));
        if (publish != null) {
            publishTo(publish, report);
            System.out.println("updated the results section of " + publish);
        }
        return 0;
    }

    // ---- reading ------------------------------------------------------------------------------

    static Map<String, Measure> readJmh(Path file) throws IOException {
        Map<String, Measure> out = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return out;
        }
        JsonArray runs = JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8)).getAsJsonArray();
        for (JsonElement e : runs) {
            JsonObject run = e.getAsJsonObject();
            String benchmark = run.get("benchmark").getAsString();
            JsonObject params = run.has("params") ? run.getAsJsonObject("params") : new JsonObject();
            JsonObject primary = run.getAsJsonObject("primaryMetric");
            JsonObject secondary = run.getAsJsonObject("secondaryMetrics");
            double score = primary.get("score").getAsDouble();
            double error = number(primary.get("scoreError"));
            String id;
            double ops;
            double opsError;
            double bytesPerOp;
            if (benchmark.endsWith("RuntimeScanBench.scan")) {
                long size = params.get("size").getAsLong();
                id = "scan-" + params.get("pages").getAsString();
                double seconds = score / 1000.0;             // ms/op
                ops = 1 / seconds;
                opsError = Double.isNaN(error) ? Double.NaN : ops * (error / score);
                bytesPerOp = size;
            } else {
                id = benchmark.endsWith("FaultBench.touch") && !benchmark.endsWith("RuntimeFaultBench.touch")
                        ? params.get("c").getAsString()
                        : benchmark.endsWith("FourThreadsBench.touch") ? "4threads" : "rt-copy4k-seq";
                ops = score;
                opsError = error;
                bytesPerOp = id.startsWith("copy64k") ? Case.FAULT_AROUND : 4096;
            }
            out.put(id, new Measure(ops, opsError, bytesPerOp, metric(secondary, "lat.p50"), metric(secondary, "lat.p99"),
                    metric(secondary, "gc.alloc.rate.norm"), metric(secondary, "handler.alloc.norm"),
                    metric(secondary, "faults.per.op")));
        }
        return out;
    }

    static double metric(JsonObject secondary, String name) {
        if (secondary == null || !secondary.has(name)) {
            return Double.NaN;
        }
        return number(secondary.getAsJsonObject(name).get("score"));
    }

    static double number(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return Double.NaN;
        }
        try {
            return e.getAsDouble();
        } catch (NumberFormatException | UnsupportedOperationException ex) {
            return Double.NaN;                               // JMH writes "NaN" as a string
        }
    }

    static Map<String, Measure> readC(Path file) throws IOException {
        Map<String, Measure> out = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return out;
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
            String[] f = line.split(",");
            if (f.length < 8) {
                continue;
            }
            // case,threads,ops_per_s,ops_per_s_sd,bytes_per_op,p50_ns,p99_ns,ops
            out.put(f[0], new Measure(Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4]),
                    Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.NaN, Double.NaN, Double.NaN));
        }
        return out;
    }

    // ---- writing ------------------------------------------------------------------------------

    static String markdown(List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        for (String pin : PINNINGS.keySet()) {
            List<Row> mine = rows.stream().filter(r -> r.pinning.equals(pin)).toList();
            if (mine.isEmpty()) {
                continue;
            }
            sb.append("### ").append(PINNINGS.get(pin)).append(pin.equals("same")
                    ? " (touching and handler threads share CPU 0)\n\n"
                    : " (touching threads on CPU 0, handler thread on CPU 1)\n\n");
            sb.append("| | case | Java ops/s | C ops/s | Java/C | Java p50 | C p50 | Δp50 | Java p99 | C p99 | Java GB/s | alloc B/op (all / handler) |\n");
            sb.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Row r : mine) {
                Measure j = r.java;
                Measure c = r.c;
                boolean scan = r.spec.id.startsWith("scan");
                sb.append("| ").append(r.spec.letter).append(" | ").append(r.spec.id).append(": ").append(r.spec.what)
                        .append(" | ").append(j == null ? "–" : scan ? String.format(Locale.ROOT, "%.2f scans/s", j.opsPerSec) : ops(j))
                        .append(" | ").append(c == null ? "–" : scan ? gb(c.bytesPerSec()) + " GB/s" : ops(c))
                        .append(" | ").append(Double.isNaN(r.ratio()) ? "–" : String.format(Locale.ROOT, "**%.2f**", r.ratio()))
                        .append(" | ").append(j == null ? "–" : micros(j.p50))
                        .append(" | ").append(c == null || scan ? "–" : micros(c.p50))
                        .append(" | ").append(j == null || c == null || scan ? "–" : signedMicros(j.p50 - c.p50))
                        .append(" | ").append(j == null ? "–" : micros(j.p99))
                        .append(" | ").append(c == null || scan ? "–" : micros(c.p99))
                        .append(" | ").append(j == null ? "–" : gb(j.bytesPerSec()))
                        .append(" | ").append(j == null ? "–" : alloc(j, scan))
                        .append(" |\n");
            }
            sb.append('\n');
        }
        sb.append("ops/s: one op is one touched unit (a fault; for h one ioctl). Java/C compares ops/s; for g, GB/s "
                + "against C's 64 KiB fault-around sequential case. p50/p99: latency of one touch as the touching thread "
                + "sees it, µs. alloc: bytes allocated per op by every thread (JMH gc profiler) / by the threads serving "
                + "faults alone; for g per fault.\n");
        return sb.toString();
    }

    private static String ops(Measure m) {
        String v = String.format(Locale.ROOT, "%,.0f", m.opsPerSec);
        return Double.isNaN(m.opsError) || m.opsError == 0 ? v
                : v + String.format(Locale.ROOT, " ± %.1f%%", 100 * m.opsError / m.opsPerSec);
    }

    private static String micros(double ns) {
        return Double.isNaN(ns) ? "–" : String.format(Locale.ROOT, "%.2f", ns / 1000);
    }

    private static String signedMicros(double ns) {
        return Double.isNaN(ns) ? "–" : String.format(Locale.ROOT, "%+.2f", ns / 1000);
    }

    private static String gb(double bytesPerSec) {
        return String.format(Locale.ROOT, "%.2f", bytesPerSec / 1e9);
    }

    private static String alloc(Measure j, boolean perFault) {
        double all = j.allocPerOp;
        double handler = j.handlerAllocPerOp;
        if (perFault && j.faultsPerOp > 0) {
            all /= j.faultsPerOp;
            handler /= j.faultsPerOp;
        }
        return (Double.isNaN(all) ? "–" : String.format(Locale.ROOT, "%.2f", all)) + " / "
                + (Double.isNaN(handler) ? "–" : String.format(Locale.ROOT, "%.2f", handler));
    }

    static void writeCsv(List<Row> rows, Path file) throws IOException {
        StringBuilder sb = new StringBuilder("pinning,case,letter,impl,ops_per_s,ops_error,bytes_per_s,p50_ns,p99_ns,"
                + "alloc_b_per_op,handler_alloc_b_per_op,faults_per_op,java_over_c\n");
        for (Row r : rows) {
            for (String impl : List.of("java", "c")) {
                Measure m = impl.equals("java") ? r.java : r.c;
                if (m == null || (impl.equals("c") && !r.spec.id.equals(r.spec.cCase))) {
                    continue;
                }
                sb.append(String.join(",", r.pinning, r.spec.id, r.spec.letter, impl, num(m.opsPerSec), num(m.opsError),
                        num(m.bytesPerSec()), num(m.p50), num(m.p99), num(m.allocPerOp), num(m.handlerAllocPerOp),
                        num(m.faultsPerOp), impl.equals("java") ? num(r.ratio()) : "")).append('\n');
            }
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    static void writeJson(List<Row> rows, String machine, Path file) throws IOException {
        Gson gson = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("machine", machine);
        doc.put("rows", rows);
        Files.writeString(file, gson.toJson(doc), StandardCharsets.UTF_8);
    }

    /**
     * Draws the chart; returns why it could not be drawn (AWT without fonts, as in a minimal
     * container), or null. The table, CSV and JSON do not depend on it.
     */
    static String drawChart(List<Row> rows, Path file) {
        return drawQuietly(() -> chart(rows, file));
    }

    /** Drawing a chart into a file. */
    interface Drawing {
        void draw() throws IOException;
    }

    /** Draws headless; returns why it could not (AWT without fonts, no display), or null. */
    static String drawQuietly(Drawing drawing) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        try {
            drawing.draw();
            return null;
        } catch (IOException | RuntimeException | LinkageError | InternalError e) {
            return e.toString();
        }
    }

    /** Java/C per case and pinning, with the 0.95 target drawn as a series of its own. */
    static void chart(List<Row> rows, Path file) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(700)
                .title("uffd4j / C: throughput ratio per case (1.0 = as fast as C; g: GB/s against C's case b)")
                .xAxisTitle("case").yAxisTitle("Java / C").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setXAxisLabelRotation(30);
        chart.getStyler().setAvailableSpaceFill(0.8);
        chart.getStyler().setOverlapped(false);
        chart.getStyler().setYAxisMin(0.0);
        List<String> cases = new ArrayList<>();
        for (Row r : rows) {
            if (!Double.isNaN(r.ratio()) && !cases.contains(r.spec.id)) {
                cases.add(r.spec.id);
            }
        }
        if (cases.isEmpty()) {
            return;
        }
        for (String pin : PINNINGS.keySet()) {
            if (rows.stream().noneMatch(r -> r.pinning.equals(pin) && !Double.isNaN(r.ratio()))) {
                continue;
            }
            List<Double> ys = new ArrayList<>();
            for (String id : cases) {
                ys.add(rows.stream().filter(r -> r.pinning.equals(pin) && r.spec.id.equals(id)).findFirst()
                        .map(Row::ratio).filter(v -> !Double.isNaN(v)).orElse(0.0));
            }
            chart.addSeries(PINNINGS.get(pin), cases, ys);
        }
        chart.addSeries("target 0.95 (a, c, d, e)", cases, cases.stream().map(id -> 0.95).toList());
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    static void publishTo(Path markdownFile, String report) throws IOException {
        publishTo(markdownFile, report, BEGIN, END);
    }

    /** Replaces what stands between the markers {@code beginMarker} and {@code endMarker} of {@code markdownFile} with {@code report}. */
    static void publishTo(Path markdownFile, String report, String beginMarker, String endMarker) throws IOException {
        String doc = Files.readString(markdownFile, StandardCharsets.UTF_8);
        int begin = doc.indexOf(beginMarker);
        int end = doc.indexOf(endMarker);
        if (begin < 0 || end < begin) {
            throw new IllegalStateException(markdownFile + " has no " + beginMarker + " ... " + endMarker + " section");
        }
        String updated = doc.substring(0, begin + beginMarker.length()) + "\n" + report.strip() + "\n" + doc.substring(end);
        Files.writeString(markdownFile, updated, StandardCharsets.UTF_8);
    }
}
