package io.github.uffd4j.demo;

import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.migrate.MigratedMemory;
import io.github.uffd4j.migrate.MigrationSource;
import io.github.uffd4j.migrate.MigrationTarget;
import io.github.uffd4j.migrate.PushPriority;
import io.github.uffd4j.source.Compression;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.zip.CRC32C;

/**
 * scripts/migrate: moves off-heap memory from one JVM to another over loopback while the source
 * keeps writing it, with progress and the numbers the benchmark publishes. This JVM is the
 * target; it starts the source as a second JVM. Every MiB is checked against the source's copy
 * at the switchover (CRC32C).
 */
@Command(name = "scripts/migrate", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class, sortOptions = false,
        description = {"Postcopy migration of off-heap memory between two JVMs on this machine (TCP over loopback):",
                "precopy rounds while the source writes, a switchover, then the rest pushed while the target's",
                "faults are served first. Prints rounds, dirty pages, downtime, pages pulled and pushed, urgent-fault",
                "latency and total time; checks every MiB. --baseline stops the writers first and copies everything."})
public final class MigrateDemo implements Callable<Integer> {

    @Option(names = "--size", paramLabel = "BYTES", converter = Demo.Sizes.class,
            description = "Memory to migrate, K/M/G suffix (default: ${DEFAULT-VALUE}).", defaultValue = "1G")
    long size;

    @Option(names = "--write-rate", paramLabel = "PERCENT",
            description = "Pages the source writes per second, in percent of all pages (default: ${DEFAULT-VALUE}).",
            defaultValue = "1")
    double writeRate;

    @Option(names = "--touches", description = "Random pages the target touches right after the switchover (default: ${DEFAULT-VALUE}).",
            defaultValue = "2000")
    int touches;

    @Option(names = "--baseline", description = "Stop the writers first and copy everything before the target runs.")
    boolean baseline;

    /** The target's memory (MigrationTarget.Backing); the hugetlb kinds make the source migrate hugetlb memory in 2 MiB pages. */
    enum Backing { ANONYMOUS, SHMEM, HUGETLB, SHARED_HUGETLB }

    @Option(names = "--backing", paramLabel = "KIND", description = {"The target's memory: ${COMPLETION-CANDIDATES} "
            + "(default: ${DEFAULT-VALUE}). shmem is a memfd served in MINOR mode; the hugetlb kinds migrate 2 MiB pages "
            + "from hugetlb memory at the source and need 2 x size of free 2 MiB huge pages."},
            defaultValue = "anonymous", converter = BackingName.class)
    Backing backing;

    /** An option naming a constant of {@code E} in any case, {@code -} or {@code _} between words. */
    abstract static class EnumName<E extends Enum<E>> implements CommandLine.ITypeConverter<E> {
        private final Class<E> type;

        EnumName(Class<E> type) {
            this.type = type;
        }

        @Override
        public E convert(String value) {
            return Enum.valueOf(type, value.toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        }
    }

    /** {@code --backing}. */
    static final class BackingName extends EnumName<Backing> {
        BackingName() {
            super(Backing.class);
        }
    }

    @Option(names = "--compress", paramLabel = "CODEC", description = {"Compress the precopy's and the push's pages: "
            + "${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}; zstd and lz4 need aircompressor-v3, which scripts/migrate "
            + "puts on the class path)."}, defaultValue = "none", converter = CompressionConverter.class)
    Compression compress;

    /** What the source's pages hold before the writers start. */
    enum Content { RANDOM, RECORDS }

    @Option(names = "--content", paramLabel = "KIND", description = {"What the source's memory holds: ${COMPLETION-CANDIDATES} "
            + "(default: ${DEFAULT-VALUE}). random: a hash of each word's offset (incompressible); records: text records "
            + "of a few fields each, like a cache of JSON values (lz4 packs them to about a third)."},
            defaultValue = "random", converter = ContentName.class)
    Content content;

    /** {@code --content}. */
    static final class ContentName extends EnumName<Content> {
        ContentName() {
            super(Content.class);
        }
    }

    @Option(names = "--push-priority", paramLabel = "PRIORITY", description = {"How the postcopy push gives way to "
            + "the pages faults ask for, on both sides: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}; see PushPriority)."},
            defaultValue = "low", converter = PushPriorityName.class)
    PushPriority pushPriority;

    /** {@code --push-priority}. */
    static final class PushPriorityName extends EnumName<PushPriority> {
        PushPriorityName() {
            super(PushPriority.class);
        }
    }

    @Option(names = "--touch-log", paramLabel = "FILE", description = "Write each touch during postcopy to FILE "
            + "(CSV: microseconds after the switchover, latency in microseconds, whether it asked the source for its page).")
    Path touchLogFile;

    @Option(names = "--csv", paramLabel = "FILE", description = "Append one line of results to FILE (its last columns: "
            + "compression, content, push priority, urgent faults, their p50 and p99 in us).")
    Path csv;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("--source-child")) {
            System.exit(Source.run(args));
        }
        System.exit(new CommandLine(new MigrateDemo()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        boolean huge = backing == Backing.HUGETLB || backing == Backing.SHARED_HUGETLB;
        long page = huge ? HugePageSize.SIZE_2MB.bytes() : Memory.pageSize();
        size = Math.max(page, size / page * page);
        MigrationTarget.Backing target = switch (backing) {
            case ANONYMOUS -> MigrationTarget.Backing.ANONYMOUS;
            case SHMEM -> MigrationTarget.Backing.SHMEM;
            case HUGETLB -> MigrationTarget.Backing.hugetlb(HugePageSize.SIZE_2MB);
            case SHARED_HUGETLB -> MigrationTarget.Backing.sharedHugetlb(HugePageSize.SIZE_2MB);
        };
        if (huge && Memory.freeHugePages(HugePageSize.SIZE_2MB) < 2 * size / page) {
            System.out.printf("target   | --backing %s needs %d free 2 MiB huge pages (the source's memory and the target's); "
                            + "%d are free. As root: echo %d > %s/nr_hugepages%n", backing.name().toLowerCase(java.util.Locale.ROOT),
                    2 * size / page, Memory.freeHugePages(HugePageSize.SIZE_2MB),
                    Memory.totalHugePages(HugePageSize.SIZE_2MB) + 2 * size / page - Memory.freeHugePages(HugePageSize.SIZE_2MB),
                    "/sys/kernel/mm/hugepages/hugepages-2048kB");
            return 1;
        }
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            String modules = System.getProperty("jdk.module.path");
            if (modules != null) {
                // ALL-UNNAMED too: the codec library (aircompressor, on the class path) loads its native zstd/lz4
                cmd.addAll(List.of("--module-path", modules, "--add-modules", "io.github.uffd4j",
                        "--enable-native-access=io.github.uffd4j,ALL-UNNAMED"));
            } else {
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), MigrateDemo.class.getName()));
            cmd.addAll(List.of("--source-child", Integer.toString(server.getLocalPort()), Long.toString(size),
                    Double.toString(writeRate), Boolean.toString(baseline), Boolean.toString(huge), compress.name(), content.name(),
                    pushPriority.name()));
            Process source = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            List<String> sourceLines = new ArrayList<>();
            Thread echo = Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(source.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        synchronized (sourceLines) {
                            sourceLines.add(line);
                        }
                        if (!line.startsWith("CRC ")) {
                            System.out.println("  source | " + line);
                        }
                    }
                } catch (java.io.IOException ignored) {
                    // the source ended
                }
            });
            System.out.printf("target   | waiting on %s for %s into %s memory%s%n", server.getLocalSocketAddress(),
                    PagingDemo.bytes(size), target, baseline ? " (baseline: stop and copy)" : "");
            long[] latency = new long[touches];
            int touched;
            long t0;
            try (MigratedMemory m = MigrationTarget.receive(server, MigrationTarget.Options.DEFAULT.withBacking(target).withPushPriority(pushPriority))) {
                t0 = System.nanoTime();
                System.out.println("target   | running (switchover)");
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                touched = 0;
                long[] urgentLatency = new long[touches]; // the touches that asked the source for their page
                int urgent = 0;
                StringBuilder touchLog = touchLogFile == null ? null : new StringBuilder("start_us,latency_us,asked\n");
                while (touched < touches && !m.isComplete()) {
                    long off = rnd.nextLong(size / page) * page;
                    long pulled = m.pagesPulled(); // only this thread touches: a change is this touch's request
                    long s = System.nanoTime();
                    m.load(off, page);
                    long took = System.nanoTime() - s;
                    latency[touched++] = took;
                    boolean asked = m.pagesPulled() != pulled;
                    if (touchLog != null) {
                        touchLog.append((s - t0) / 1000).append(',').append(took / 1000).append(',').append(asked).append('\n');
                    }
                    if (asked) {
                        urgentLatency[urgent++] = took;
                    }
                }
                if (touchLog != null) {
                    java.nio.file.Files.writeString(touchLogFile, touchLog);
                }
                if (!m.awaitComplete(Duration.ofMinutes(10))) {
                    System.out.println("target   | not complete after 10 minutes");
                    return 1;
                }
                long postcopy = System.nanoTime() - t0;
                int code = source.waitFor();
                echo.join();
                if (code != 0) {
                    System.out.println("target   | the source failed (exit " + code + ")");
                    return 1;
                }
                String sums;
                synchronized (sourceLines) {
                    sums = sourceLines.stream().filter(l -> l.startsWith("CRC ")).findFirst().orElse("");
                }
                long bad = compare(m.segment(), sums);
                Arrays.sort(latency, 0, touched);
                Arrays.sort(urgentLatency, 0, urgent);
                System.out.printf("target   | complete %.0f ms after the switchover; pushed %,d pages, pulled %,d; %d touches during "
                                + "postcopy: p50 %.0f us, p99 %.0f us; the %d that asked for their page (urgent faults): p50 %.0f us, "
                                + "p99 %.0f us%n", postcopy / 1e6, m.pagesPushed(), m.pagesPulled(),
                        touched, percentile(latency, touched, 0.50) / 1e3, percentile(latency, touched, 0.99) / 1e3,
                        urgent, percentile(urgentLatency, urgent, 0.50) / 1e3, percentile(urgentLatency, urgent, 0.99) / 1e3);
                System.out.println(bad == 0 ? "target   | every MiB equals the source at the switchover"
                        : "target   | " + bad + " MiB DIFFER from the source at the switchover");
                if (csv != null) {
                    String report;
                    synchronized (sourceLines) {
                        report = sourceLines.stream().filter(l -> l.startsWith("RESULT ")).findFirst().orElse("RESULT ?");
                    }
                    java.nio.file.Files.writeString(csv, String.format("%s,%s,%.3f,%d,%.1f,%.1f,%s,%s,%s,%s,%d,%.1f,%.1f%n", size,
                            baseline ? "stop-and-copy" : "postcopy", writeRate, touched, percentile(latency, touched, 0.50) / 1e3,
                            percentile(latency, touched, 0.99) / 1e3, report.substring(7), compress.name().toLowerCase(java.util.Locale.ROOT),
                            content.name().toLowerCase(java.util.Locale.ROOT), pushPriority.name().toLowerCase(java.util.Locale.ROOT),
                            urgent, percentile(urgentLatency, urgent, 0.50) / 1e3, percentile(urgentLatency, urgent, 0.99) / 1e3),
                            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                }
                return bad == 0 ? 0 : 2;
            }
        }
    }

    private static double percentile(long[] sorted, int n, double q) {
        return n == 0 ? 0 : sorted[Math.min(n - 1, (int) Math.ceil(q * n) - 1)];
    }

    /** MiB whose CRC32C differs from the source's line "CRC c1 c2 ...". */
    private static long compare(MemorySegment memory, String line) {
        String[] want = line.isEmpty() ? new String[0] : line.substring(4).split(" ");
        long mib = memory.byteSize() >> 20;
        if (want.length != mib) {
            return Math.max(1, mib);
        }
        long bad = 0;
        for (int i = 0; i < mib; i++) {
            if (crc(memory, (long) i << 20) != Long.parseLong(want[i])) {
                bad++;
            }
        }
        return bad;
    }

    static long crc(MemorySegment memory, long offset) {
        CRC32C c = new CRC32C();
        c.update(memory.asSlice(offset, 1 << 20).asByteBuffer());
        return c.getValue();
    }

    /** Fills {@code s} with text records: {"id":N,"user":"user-N","score":S,"tags":[...]} and a newline, deterministic. */
    static void fillRecords(MemorySegment s) {
        String[] tags = {"alpha", "beta", "gamma", "delta", "cache", "hot", "cold", "eu", "us", "apac"};
        byte[] chunk = new byte[1 << 20];
        long id = 0;
        StringBuilder b = new StringBuilder();
        for (long off = 0; off < s.byteSize(); off += chunk.length) {
            int n = 0;
            while (n < chunk.length) {
                b.setLength(0);
                long h = id * 0x9E3779B97F4A7C15L;
                b.append("{\"id\":").append(id).append(",\"user\":\"user-").append(Long.remainderUnsigned(h, 100_000))
                        .append("\",\"score\":").append(Long.remainderUnsigned(h >>> 17, 1000)).append(",\"tags\":[\"")
                        .append(tags[(int) Long.remainderUnsigned(h >>> 7, tags.length)]).append("\",\"")
                        .append(tags[(int) Long.remainderUnsigned(h >>> 29, tags.length)]).append("\"]}\n");
                byte[] rec = b.toString().getBytes(StandardCharsets.US_ASCII);
                int k = Math.min(rec.length, chunk.length - n);
                System.arraycopy(rec, 0, chunk, n, k);
                n += k;
                id++;
            }
            MemorySegment.copy(chunk, 0, s, ValueLayout.JAVA_BYTE, off, (int) Math.min(chunk.length, s.byteSize() - off));
        }
    }

    /** The source JVM: memory with every page holding data, writers at the asked rate, the migration, the checksums. */
    static final class Source {
        static int run(String[] args) {
            int port = Integer.parseInt(args[1]);
            long size = Long.parseLong(args[2]);
            double ratePercent = Double.parseDouble(args[3]);
            boolean baseline = Boolean.parseBoolean(args[4]);
            boolean huge = Boolean.parseBoolean(args[5]);
            Compression compression = Compression.valueOf(args[6]);
            Content content = Content.valueOf(args[7]);
            PushPriority pushPriority = PushPriority.valueOf(args[8]);
            long page = Memory.pageSize();
            long pages = size / page;
            long migratePage = huge ? HugePageSize.SIZE_2MB.bytes() : page;
            try (Mapping m = huge ? Memory.hugetlb(size, HugePageSize.SIZE_2MB) : Memory.anonymous(size)) {
                MemorySegment s = m.segment();
                if (content == Content.RECORDS) {
                    fillRecords(s);
                } else {
                    for (long off = 0; off < size; off += 8) {
                        s.set(ValueLayout.JAVA_LONG, off, off * 0x9E3779B97F4A7C15L + 1);
                    }
                }
                ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong writes = new AtomicLong();
                long perSecond = Math.max(1, (long) (pages * ratePercent / 100));
                Thread writer = Thread.ofPlatform().daemon().name("writer").start(() -> {
                    ThreadLocalRandom rnd = ThreadLocalRandom.current();
                    long start = System.nanoTime();
                    while (!stop.get()) {
                        long due = (System.nanoTime() - start) * perSecond / 1_000_000_000L;
                        while (writes.get() < due && !stop.get()) {
                            gate.readLock().lock();
                            try {
                                s.set(ValueLayout.JAVA_LONG, rnd.nextLong(pages) * page + rnd.nextLong(page / 8) * 8, writes.incrementAndGet());
                            } finally {
                                gate.readLock().unlock();
                            }
                        }
                        LockSupport.parkNanos(100_000);
                    }
                });
                MigrationSource.Writers writers = MigrationSource.Writers.of(gate);
                Thread.sleep(200);
                long stoppedAt = 0;
                MigrationSource.Options options = MigrationSource.Options.DEFAULT.withProgress(p -> System.out.printf(
                        "%6.0f ms  %-8s %s%n", p.elapsed().toNanos() / 1e6, p.step(), switch (p.step()) {
                            case ROUND -> "round " + p.round() + ": " + String.format("%,d", p.pages()) + " pages sent";
                            case SWITCHED -> String.format("%,d pages left for postcopy", p.pages());
                            case PUSHED -> String.format("%,d pushed, %,d pulled", p.pages(), p.pulled());
                            case DONE -> String.format("%,d pushed, %,d pulled, %,d bytes sent", p.pages(), p.pulled(), p.bytesSent());
                        }));
                if (baseline) {
                    writers.stop();
                    stoppedAt = System.nanoTime();
                    options = options.withRounds(0, Long.MAX_VALUE);
                }
                MigrationSource.Writers during = baseline ? new MigrationSource.Writers() {
                    @Override
                    public void stop() {
                    }

                    @Override
                    public void resume() {
                    }
                } : writers;
                MigrationSource.Report r = MigrationSource.migrate(s, migratePage,
                        new InetSocketAddress(InetAddress.getLoopbackAddress(), port), during, options.withCompression(compression).withPushPriority(pushPriority));
                double downtimeMs = baseline ? (System.nanoTime() - stoppedAt) / 1e6 : r.downtime().toNanos() / 1e6;
                System.out.printf("rounds %s; downtime %.1f ms; %,d pushed, %,d pulled; %.2f x the memory sent; total %.0f ms; %,d writes%n",
                        r.pagesPerRound(), downtimeMs, r.pagesPushed(), r.pagesPulled(), r.bytesSent() / (double) size,
                        r.total().toNanos() / 1e6, writes.get());
                System.out.printf("RESULT %.1f,%.0f,%.3f,%d,%d,%d%n", downtimeMs, r.total().toNanos() / 1e6,
                        r.bytesSent() / (double) size, r.pagesPushed(), r.pagesPulled(), r.pagesPerRound().size() - 2);
                StringBuilder crc = new StringBuilder("CRC");
                for (long off = 0; off < size; off += 1 << 20) {
                    crc.append(' ').append(crc(s, off));
                }
                System.out.println(crc);
                stop.set(true);
                return 0;
            } catch (Exception e) {
                e.printStackTrace(System.out);
                return 1;
            }
        }
    }
}
