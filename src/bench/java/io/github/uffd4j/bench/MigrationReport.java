package io.github.uffd4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The migration table of one {@code scripts/bench --migration} run: its {@code scripts/migrate
 * --csv} lines (one per scenario) as a Markdown table, printed, and with {@code --publish FILE}
 * written between FILE's {@code <!-- migration:begin -->} and {@code <!-- migration:end -->}.
 *
 * <p>Arguments: CSV [--publish FILE]. The CSV's columns, as MigrateDemo writes them: size, mode,
 * write rate, touches, touch p50 and p99 (us), downtime (ms), total (ms), bytes sent / size,
 * pushed, pulled, precopy rounds, compression, content, push priority, urgent faults, their p50
 * and p99 (us).
 */
public final class MigrationReport {

    private static final String BEGIN = "<!-- migration:begin -->";
    private static final String END = "<!-- migration:end -->";

    private MigrationReport() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 1 && !(args.length == 3 && args[1].equals("--publish"))) {
            System.err.println("usage: MigrationReport CSV [--publish FILE]");
            System.exit(2);
        }
        List<String[]> rows = Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8).stream()
                .filter(l -> !l.isBlank() && !l.startsWith("#")).map(l -> l.split(",")).toList();
        String table = table(rows);
        System.out.print(table);
        if (args.length == 3) {
            Report.publishTo(Path.of(args[2]), table, BEGIN, END);
        }
    }

    static String table(List<String[]> rows) {
        StringBuilder b = new StringBuilder();
        String priorities = rows.stream().map(r -> r.length > 14 ? r[14] : "?").distinct().collect(Collectors.joining(", "));
        String compressions = rows.stream().map(r -> r.length > 12 ? r[12] : "?").distinct().collect(Collectors.joining(", "));
        b.append("One run of `scripts/bench --migration`, ").append(LocalDate.now()).append(" (raw lines in "
                + "`src/bench/results/migration-run.csv`): anonymous memory, loopback TCP, both JVMs on this machine's ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPUs, the push at priority ").append(priorities)
                .append(", compression ").append(compressions).append(". Urgent faults: the target's touches that asked the "
                        + "source for their page while the push ran.\n\n");
        b.append("| memory | mode | writes/s | precopy rounds | downtime | total | bytes sent / memory | pushed / pulled "
                + "| touches p50 / p99 | urgent faults | urgent p50 / p99 |\n");
        b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String[] r : rows) {
            boolean baseline = r[1].equals("stop-and-copy");
            b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n",
                    size(Long.parseLong(r[0])), r[1], baseline ? "-" : percent(r[2]), baseline ? "-" : r[11],
                    ms(r[6]), seconds(r[7]), String.format(Locale.ROOT, "%.2f", Double.parseDouble(r[8])),
                    baseline ? "-" : r[9] + " / " + r[10],
                    baseline ? "-" : us(r[4]) + " / " + us(r[5]),
                    baseline || r.length < 18 ? "-" : r[15],
                    baseline || r.length < 18 || r[15].equals("0") ? "-" : us(r[16]) + " / " + us(r[17])));
        }
        return b.toString();
    }

    private static String size(long bytes) {
        return bytes % (1L << 30) == 0 ? (bytes >> 30) + " GiB" : (bytes >> 20) + " MiB";
    }

    private static String percent(String rate) {
        double r = Double.parseDouble(rate);
        return (r == Math.rint(r) ? String.valueOf((long) r) : String.valueOf(r)) + " %";
    }

    private static String ms(String v) {
        return String.format(Locale.ROOT, "%.1f ms", Double.parseDouble(v));
    }

    private static String seconds(String millis) {
        return String.format(Locale.ROOT, "%.2f s", Double.parseDouble(millis) / 1000);
    }

    private static String us(String v) {
        double d = Double.parseDouble(v);
        return String.format(Locale.ROOT, d < 10 ? "%.1f us" : "%.0f us", d);
    }
}
