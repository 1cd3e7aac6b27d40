package io.github.uffd4j.bench;

import io.github.uffd4j.Feature;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmarks' code paths, run once each without timing (scripts/bench runs them for real):
 * every case serves its faults with the right contents, the runtime benchmarks scan and verify,
 * the C reference builds and runs every case, and the report pairs the two.
 */
class BenchSmokeTest {

    @ParameterizedTest
    @EnumSource(Case.class)
    void everyCaseServesItsOpsWithTheRightContents(Case c) throws Exception {
        if (c.mode == io.github.uffd4j.RegisterMode.MINOR) {
            TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        }
        try (Workload w = Workload.open(c)) {
            List<Thread> threads = new ArrayList<>();
            List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int i = 0; i < c.threads; i++) {
                int index = i;
                threads.add(Thread.ofPlatform().start(() -> {
                    // the constructor runs and verifies one untimed pass for read cases
                    try (Toucher t = w.toucher(index)) {
                        for (int round = 0; round < 3; round++) {
                            t.invocation();
                            t.verify();
                            if (c.touch == Case.Touch.WRITE && c.mode != null) {
                                // every unit was written through the protection (wp)
                                MemorySegment chunk = MemorySegment.ofAddress(w.base + index * c.chunkBytes()).reinterpret(c.chunkBytes());
                                for (long off = 0; off < c.chunkBytes(); off += c.unit) {
                                    assertEquals(1, chunk.get(ValueLayout.JAVA_BYTE, off), c.id + " at " + off);
                                }
                            }
                            t.reset();
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(60));
                assertTrue(!t.isAlive(), c.id + ": a touching thread is stuck");
            }
            if (!failures.isEmpty()) {
                throw new AssertionError(c.id + " failed", failures.getFirst());
            }
        }
    }

    /**
     * PagerBench's cross-process handler: a second JVM handed the userfaultfd serves case a with
     * the right contents. Touches with the native read only: a thread stuck in a fault in native
     * code cannot freeze this JVM (plain Java loads are left to the benchmark).
     */
    @Test
    void aHandlerInAnotherJvmServesTheRightContents() throws Exception {
        try (Workload w = Workload.openRemote(Case.COPY4K_SEQ)) {
            java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
            Thread t = Thread.ofPlatform().start(() -> {
                try (Toucher toucher = w.toucher(0)) {   // the constructor runs and verifies one pass
                    for (int round = 0; round < 3; round++) {
                        toucher.invocation();
                        toucher.verify();
                        toucher.reset();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertTrue(!t.isAlive(), "the touching thread is stuck");
            if (failure.get() != null) {
                throw new AssertionError("cross-process copy4k-seq failed", failure.get());
            }
        }
        try (Workload local = Workload.open(Case.COPY4K_SEQ)) {
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> local.toucher(0, true),
                    "plain Java loads with the handler in this JVM are refused");
        }
    }

    @Test
    void snapshotScenarioMeasuresEveryCaseAndTheIncrementHoldsJustTheWrittenPages(@TempDir Path dir) throws Exception {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        Path csv = dir.resolve("s.csv");
        // a 16 MiB smoke run: its table is no measurement, so it is kept for failure messages, not printed
        java.io.ByteArrayOutputStream table = new java.io.ByteArrayOutputStream();
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(table, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            SnapshotScenario.main(new String[] {Long.toString(16L << 20), dir.resolve("files").toString(), csv.toString(), "100"});
        } catch (Exception | Error e) {
            out.println("the snapshot scenario's output before it failed:\n" + table);
            throw e;
        } finally {
            System.setOut(out);
        }
        Map<String, Double> v = new java.util.HashMap<>();
        List<String> lines = Files.readAllLines(csv);
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            v.put(f[1] + "/" + f[2], Double.parseDouble(f[3]));
        }
        for (String key : List.of("disk/sequential MB/s", "pause-copy/pause ms", "live-steady/snapshot() returns ms",
                "live-flat-out/throughput ratio", "tracked-steady/writers paused ms", "tracked-flat-out/write p99 ns during")) {
            assertTrue(v.containsKey(key) && v.get(key) > 0, key + " in " + v);
        }
        assertEquals(v.get("increment/pages written"), v.get("increment/pages stored"), v::toString);
        assertTrue(v.get("tracked-flat-out/file MiB") < 16.5, "rounds rewrite pages in place: the file is not bigger than the memory "
                + "and its index: " + v);
        try (var files = Files.list(dir.resolve("files"))) {
            assertEquals(List.of(), files.toList(), "the scenario removes its files");
        }
    }

    @Test
    void randomOrderIsAPermutationAndSequentialIsIdentity() {
        int[] seq = Case.order(Case.OPS, false);
        int[] rand = Case.order(Case.OPS, true);
        boolean[] seen = new boolean[Case.OPS];
        for (int i = 0; i < Case.OPS; i++) {
            assertEquals(i, seq[i]);
            seen[rand[i]] = true;
        }
        for (boolean b : seen) {
            assertTrue(b);
        }
        assertTrue(!java.util.Arrays.equals(seq, rand), "the random order is shuffled");
    }

    @Test
    void runtimeBenchmarksLoadEveryPage() {
        RuntimeFaultBench fault = new RuntimeFaultBench();
        fault.open();
        try {
            fault.touch();
            fault.reset();
            fault.touch();
        } finally {
            fault.close();
        }
        RuntimeScanBench scan = new RuntimeScanBench();
        scan.size = 64L << 20;
        scan.pages = "4k";
        scan.open();
        try {
            for (int i = 0; i < 2; i++) {
                scan.scan();
                scan.closeSegment();     // checks the sum against the source's
            }
            assertTrue(Latencies.faults() > 0, "the scan took faults");
        } finally {
            scan.close();
        }
    }

    @Test
    void cReferenceRunsEveryCaseAndTheReportPairsThem(@TempDir Path dir) throws Exception {
        Path binary = buildReference(dir);
        Process p = new ProcessBuilder(binary.toString(), "--warmup", "0", "--iterations", "1", "--time-ms", "40")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String csv = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "uffd-ref finished");
        assertEquals(0, p.exitValue(), csv);
        Files.writeString(dir.resolve("c-same.csv"), csv);
        Map<String, Report.Measure> c = Report.readC(dir.resolve("c-same.csv"));
        for (Case k : Case.values()) {
            Report.Measure m = c.get(k.id);
            assertTrue(m != null, "the C reference ran " + k.id + ": " + csv);
            assertTrue(m.opsPerSec() > 0 && m.p50() > 0 && m.p99() >= m.p50(), k.id + ": " + m);
        }
        assertTrue(c.containsKey("ioctl-copy2m"), csv);

        // a JMH result in JMH's JSON shape for two cases: the report pairs them with C's
        Files.writeString(dir.resolve("jmh-same.json"), """
                [ { "benchmark": "io.github.uffd4j.bench.FaultBench.touch", "mode": "thrpt", "params": { "c": "copy4k-seq" },
                    "primaryMetric": { "score": 50000.0, "scoreError": 500.0, "scoreUnit": "ops/s" },
                    "secondaryMetrics": { "lat.p50": { "score": 9000.0 }, "lat.p99": { "score": 20000.0 },
                                          "gc.alloc.rate.norm": { "score": 0.5 }, "handler.alloc.norm": { "score": 0.0 } } },
                  { "benchmark": "io.github.uffd4j.bench.RuntimeScanBench.scan", "mode": "ss", "params": { "size": "1073741824", "pages": "4k" },
                    "primaryMetric": { "score": 500.0, "scoreError": "NaN", "scoreUnit": "ms/op" },
                    "secondaryMetrics": { "faults.per.op": { "score": 2000.0 }, "gc.alloc.rate.norm": { "score": 4000.0 } } } ]
                """);
        Files.writeString(dir.resolve("BENCHMARKS.md"), "# B\n" + Report.BEGIN + "\nold\n" + Report.END + "\ntail\n");
        int rc = new picocli.CommandLine(new Report()).execute("--results", dir.toString(), "--publish", dir.resolve("BENCHMARKS.md").toString());
        assertEquals(0, rc);
        String table = Files.readString(dir.resolve("report.md"));
        double ratio = 50000.0 / c.get("copy4k-seq").opsPerSec();
        assertTrue(table.contains(String.format(java.util.Locale.ROOT, "**%.2f**", ratio)), table);
        assertTrue(table.contains("scan-4k"), table);
        String published = Files.readString(dir.resolve("BENCHMARKS.md"));
        assertTrue(published.startsWith("# B\n" + Report.BEGIN) && published.endsWith(Report.END + "\ntail\n")
                && !published.contains("old"), published);
        List<String> rows = Files.readAllLines(dir.resolve("results.csv"));
        assertTrue(rows.stream().anyMatch(r -> r.startsWith("same,copy4k-seq,a,java,50000.000")), rows.toString());
        if (fontsInstalled()) {
            assertTrue(Files.size(dir.resolve("chart.png")) > 1000, "chart written");
        } else {
            System.out.println("SKIPPED the chart check: no fonts under /usr/share/fonts (AWT cannot draw text)");
        }
    }

    private static boolean fontsInstalled() throws IOException {
        Path fonts = Path.of("/usr/share/fonts");
        if (!Files.isDirectory(fonts)) {
            return false;
        }
        try (var files = Files.walk(fonts)) {
            return files.anyMatch(f -> f.toString().endsWith(".ttf") || f.toString().endsWith(".otf"));
        }
    }

    private static Path buildReference(Path dir) throws IOException, InterruptedException {
        Path root = Path.of("").toAbsolutePath();
        Path binary = dir.resolve("uffd-ref");
        String cc = TestSupport.assumeCCompiler("to build the C reference");
        String out = TestSupport.runCommand(List.of(cc, "-O2", "-Wall", "-Werror", "-pthread",
                "-I", root.resolve("native-headers").toString(), root.resolve("src/bench/c/uffd_ref.c").toString(),
                "-o", binary.toString(), "-lm"));
        assertTrue(out.isBlank(), "compiler output: " + out);
        return binary;
    }
}
