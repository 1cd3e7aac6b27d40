package io.github.uffd4j.bench;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The report of {@code scripts/bench --datasets}: from {@code jmh-datasets.json} and
 * {@code dataset-memory.csv}, one row per dataset with the lazy time against the eager baseline
 * for the time to first byte, 1% random lookups and the full scan (as throughput), and the memory
 * in use at the end of each op; the plain file also through mmap. Prints markdown; with
 * {@code --publish FILE} also writes it between FILE's {@code <!-- datasets:begin -->} and
 * {@code <!-- datasets:end -->}.
 *
 * <p>Arguments: RESULTS_DIR SIZE [--publish FILE]
 */
public final class DatasetReport {

    private static final String BEGIN = "<!-- datasets:begin -->";
    private static final String END = "<!-- datasets:end -->";

    /** Milliseconds per op (mean and error) of one benchmark method on one dataset. */
    private record Score(double ms, double error) {
    }

    /** Memory at the end of an op: the JVM's RSS, the region's resident bytes, the chunk cache. */
    private record Mem(long rss, long resident, long cache) {
    }

    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args[0]);
        long size = Long.parseLong(args[1]);
        Map<String, Score> scores = new HashMap<>(); // "Class.method/dataset"
        for (JsonElement e : JsonParser.parseString(Files.readString(dir.resolve("jmh-datasets.json"), StandardCharsets.UTF_8))
                .getAsJsonArray()) {
            JsonObject run = e.getAsJsonObject();
            String b = run.get("benchmark").getAsString();
            String method = b.substring(b.lastIndexOf('.', b.lastIndexOf('.') - 1) + 1);
            JsonObject params = run.getAsJsonObject("params");
            String dataset = params.has("dataset") ? params.get("dataset").getAsString() : "mmap";
            JsonObject primary = run.getAsJsonObject("primaryMetric");
            scores.put(method + "/" + dataset, new Score(primary.get("score").getAsDouble(), Report.number(primary.get("scoreError"))));
        }
        Map<String, Mem> memory = new HashMap<>(); // the last op of each kind wins: a measured one
        Path log = dir.resolve("dataset-memory.csv");
        if (Files.exists(log)) {
            for (String line : Files.readAllLines(log)) {
                String[] f = line.split(",");
                memory.put(f[0] + "." + f[1] + "/" + f[2], new Mem(Long.parseLong(f[3]), Long.parseLong(f[4]), Long.parseLong(f[5])));
            }
        }
        String chartProblem = drawChartQuietly(scores, dir.resolve(CHART));
        if (chartProblem != null) {
            System.err.println("WARNING: " + CHART + " not written: " + chartProblem);
        }
        String report = markdown(size, scores, memory) + (chartProblem == null
                ? "\n![lazy against eager per dataset](src/bench/results/" + CHART + ")\n" : "");
        System.out.println(report);
        Files.writeString(dir.resolve("datasets-report.md"), report, StandardCharsets.UTF_8);
        if (args.length >= 4 && args[2].equals("--publish")) {
            Report.publishTo(Path.of(args[3]), report, BEGIN, END);
            if (chartProblem == null) {
                Path published = Path.of(args[3]).toAbsolutePath().resolveSibling("src/bench/results/" + CHART);
                Files.copy(dir.resolve(CHART), published, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            System.out.println("rewrote the datasets section of " + args[3]);
        }
    }

    private static final String CHART = "datasets-chart.png";

    /** The chart of the lazy side's gain per dataset; returns why it could not be drawn, or null. */
    private static String drawChartQuietly(Map<String, Score> s, Path file) {
        return Report.drawQuietly(() -> chart(s, file));
    }

    /**
     * Eager time over lazy time per dataset (above 1: lazy is faster) for the first byte, the
     * lookups one after the other and from 4 threads, and the scan, on a log scale, with the
     * issue's aims for lookups (20) and the scan (0.8) drawn as lines.
     */
    private static void chart(Map<String, Score> s, Path file) throws IOException {
        List<String> datasets = new ArrayList<>();
        for (String d : NAMES.keySet()) {
            if (s.containsKey("DatasetBench.scan/" + d)) {
                datasets.add(d);
            }
        }
        if (datasets.isEmpty()) {
            return;
        }
        CategoryChart chart = new CategoryChartBuilder().width(1400).height(700)
                .title("Lazy datasets, 1 GiB, cold cache: eager time / lazy time (above 1: lazy is faster)")
                .xAxisTitle("dataset").yAxisTitle("eager / lazy (log scale)").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(0.1);
        chart.getStyler().setXAxisLabelRotation(20);
        chart.getStyler().setOverlapped(false);
        List<String> labels = datasets.stream().map(NAMES::get).toList();
        String[][] series = {{"first byte", "firstByte", "eager"}, {"lookups (1 %)", "lookups", "eager"},
                {"lookups from 4 threads", "lookupsParallel", "eager"}, {"lookups, random-access setting", "lookupsRandomAccess", "eager"},
                {"scan", "scan", "eagerScan"}};
        for (String[] x : series) {
            List<Double> ys = new ArrayList<>();
            for (String d : datasets) {
                Score lazy = s.get("DatasetBench." + x[1] + "/" + d);
                Score eager = s.get("DatasetBench." + x[2] + "/" + d);
                ys.add(lazy == null || eager == null ? 1e-3 : eager.ms() / lazy.ms());
            }
            chart.addSeries(x[0], labels, ys);
        }
        chart.addSeries("aim: lookups 20", labels, labels.stream().map(l -> 20.0).toList());
        chart.addSeries("aim: scan 0.8", labels, labels.stream().map(l -> 0.8).toList());
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static final Map<String, String> NAMES = new LinkedHashMap<>();

    static {
        NAMES.put("file", "plain file");
        NAMES.put("zstd-1m", "zstd, 1 MiB chunks");
        NAMES.put("zstd-256k", "zstd, 256 KiB chunks");
        NAMES.put("zstd-64k", "zstd, 64 KiB chunks");
        NAMES.put("zstd-16k", "zstd, 16 KiB chunks");
        NAMES.put("lz4-1m", "lz4, 1 MiB chunks");
        NAMES.put("lz4-256k", "lz4, 256 KiB chunks");
        NAMES.put("s3-zstd-1m", "zstd, 1 MiB chunks, in S3");
        NAMES.put("s3-zstd-256k", "zstd, 256 KiB chunks, in S3");
    }

    private static String markdown(long size, Map<String, Score> s, Map<String, Mem> memory) {
        Map<String, String> names = NAMES;
        StringBuilder b = new StringBuilder();
        b.append(f("Dataset: %s of the mix, cold page cache before every op; lazy = `LazySegment` (2 handler threads, 2 readahead threads; chunked sources without their own prefetch), "
                + "eager = everything read and decompressed first on 2 threads. Time per op, mean of the measured ops; "
                + "memory at the end of the op (JVM RSS / region resident / chunk cache).%n%n", mib(size)));
        b.append("| dataset | stored | first byte: lazy | eager | lookups (1%): lazy | eager / lazy | the same from 4 threads | eager / lazy "
                + "| random-access setting | eager / lazy | scan: lazy | eager | lazy vs eager | memory, lazy scan | memory, eager |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (var e : names.entrySet()) {
            String d = e.getKey();
            Score first = s.get("DatasetBench.firstByte/" + d);
            Score eager = s.get("DatasetBench.eager/" + d);
            Score lookups = s.get("DatasetBench.lookups/" + d);
            Score parallel = s.get("DatasetBench.lookupsParallel/" + d);
            Score random = s.get("DatasetBench.lookupsRandomAccess/" + d);
            Score scan = s.get("DatasetBench.scan/" + d);
            Score eagerScan = s.get("DatasetBench.eagerScan/" + d);
            if (first == null || eager == null || lookups == null || scan == null || eagerScan == null) {
                continue;
            }
            b.append(f("| %s | %s | %s | %s | %s | %.1f× | %s | %s | %s | %s | %s (%s) | %s (%s) | %.2f× | %s | %s |\n", e.getValue(),
                    stored(size, d), ms(first), ms(eager), ms(lookups), eager.ms() / lookups.ms(), parallel == null ? "" : ms(parallel),
                    parallel == null ? "" : f("%.1f×", eager.ms() / parallel.ms()), random == null ? "" : ms(random),
                    random == null ? "" : f("%.1f×", eager.ms() / random.ms()), ms(scan), gbps(size, scan), ms(eagerScan),
                    gbps(size, eagerScan), eagerScan.ms() / scan.ms(), mem(memory.get("DatasetBench.scan/" + d)),
                    mem(memory.get("DatasetBench.eagerScan/" + d))));
        }
        Score mf = s.get("MmapBench.firstByte/mmap");
        Score ml = s.get("MmapBench.lookups/mmap");
        Score ms = s.get("MmapBench.scan/mmap");
        Score mr = s.get("MmapBench.lookupsRandomAccess/mmap");
        Score fileEager = s.get("DatasetBench.eager/file");
        Score fileEagerScan = s.get("DatasetBench.eagerScan/file");
        if (mf != null && ml != null && ms != null && fileEager != null && fileEagerScan != null) {
            Mem m = memory.get("MmapBench.scan/mmap");
            b.append(f("| plain file, mmap | %s | %s | %s | %s | %.1f× | | | %s | %s | %s (%s) | %s (%s) | %.2f× | %s | |\n", mib(size),
                    ms(mf), ms(fileEager), ms(ml), fileEager.ms() / ml.ms(), mr == null ? "" : ms(mr) + " (MADV_RANDOM)",
                    mr == null ? "" : f("%.1f×", fileEager.ms() / mr.ms()), ms(ms), gbps(size, ms), ms(fileEagerScan), gbps(size, fileEagerScan),
                    fileEagerScan.ms() / ms.ms(), m == null ? "" : mib(m.rss()) + " RSS"));
        }
        return b.toString();
    }

    private static String stored(long size, String dataset) {
        if (dataset.equals("file")) {
            return mib(size);
        }
        try {
            return mib(Files.size(Datasets.path(size, dataset)));
        } catch (IOException e) {
            return "?";
        }
    }

    private static String ms(Score s) {
        return s.ms() < 10 ? f("%.2f ms", s.ms()) : f("%,.0f ms", s.ms());
    }

    private static String gbps(long size, Score s) {
        return f("%.2f GB/s", size / (s.ms() / 1e3) / 1e9);
    }

    private static String mem(Mem m) {
        return m == null ? "" : f("%s / %s / %s", mib(m.rss()), mib(m.resident()), mib(m.cache()));
    }

    private static String mib(long bytes) {
        return bytes < 0 ? "?" : f("%,d MiB", Math.round(bytes / 1048576.0));
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
