package io.github.uffd4j.demo;

import io.github.uffd4j.CreationPath;
import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.Registration;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.UffdEvent;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.concurrent.Callable;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The main job of scripts/demo: what this kernel's userfaultfd can do, one page fault served by
 * hand, then on-demand paging of a generated dataset through the handler runtime, checked byte
 * for byte and measured.
 */
@Command(name = "scripts/demo", mixinStandardHelpOptions = true, versionProvider = ToolVersion.class, sortOptions = false,
        description = {"Shows this kernel's userfaultfd capabilities, then pages a deterministic dataset in on demand",
                "through uffd4j's handler threads: a random-lookup phase and a sequential scan, every byte checked,",
                "with time to first byte against loading everything eagerly, faults, readahead and latency percentiles;",
                "then plain Java code scanning the dataset paged in by a pager process under a System.gc() loop,",
                "against the in-JVM alternative."})
public final class Demo implements Callable<Integer> {

    @Option(names = "--size", paramLabel = "BYTES", converter = Sizes.class,
            description = "Dataset size, with an optional K/M/G suffix (default: ${DEFAULT-VALUE}).", defaultValue = "1G")
    long size;

    @Option(names = "--lookups", description = "Random 8-byte lookups in the first phase (default: ${DEFAULT-VALUE}).",
            defaultValue = "2000")
    int lookups;

    @Option(names = "--threads", description = "Handler threads (default: ${DEFAULT-VALUE}).", defaultValue = "2")
    int threads;

    @Option(names = "--fault-around", paramLabel = "BYTES", converter = Sizes.class,
            description = "Block loaded around a random fault (default: ${DEFAULT-VALUE}).", defaultValue = "64K")
    long faultAround;

    @Option(names = "--max-readahead", paramLabel = "BYTES", converter = Sizes.class,
            description = "Largest sequential readahead block (default: ${DEFAULT-VALUE}).", defaultValue = "4M")
    long maxReadahead;

    @Option(names = "--source-latency-us", paramLabel = "MICROS",
            description = "Simulated latency of each page-source call, as from a disk or network (default: ${DEFAULT-VALUE}).",
            defaultValue = "0")
    long sourceLatencyMicros;

    @Option(names = "--seed", description = "Dataset and lookup seed (default: ${DEFAULT-VALUE}).", defaultValue = "20261122")
    long seed;

    @Option(names = "--paging-only", description = "Skip the capability report.")
    boolean pagingOnly;

    @Option(names = "--file", paramLabel = "PATH",
            description = "Serve this file lazily instead of the generated dataset: a plain file, or a chunked one from scripts/pack.")
    java.nio.file.Path file;

    @Option(names = {"--url", "--s3"}, paramLabel = "URI",
            description = "Serve this dataset lazily instead: s3://bucket/key (credentials and region found as the AWS SDKs find them) "
                    + "or http(s)://... (a server answering range requests); plain, or chunked by scripts/pack.")
    java.net.URI url;

    @Option(names = "--endpoint", paramLabel = "URL",
            description = "The S3 endpoint for --url s3://... (a local server such as MinIO or S3Proxy; path-style addressing). "
                    + "Same as AWS_ENDPOINT_URL.")
    String endpoint;

    @Option(names = "--no-pager", description = "Skip the last part: plain Java code on memory paged in by a pager process.")
    boolean noPager;

    @Option(names = "--no-progress", description = "No progress bars (they are off anyway when output is not a terminal).")
    boolean noProgress;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the demo with {@code args}; returns the exit code (0: all checks passed). */
    public static int run(String... args) {
        return new CommandLine(new Demo()).execute(args);
    }

    @Override
    public Integer call() throws Exception {
        System.out.printf("uffd4j on Linux %s (%s), Java %s%n%n", System.getProperty("os.version"),
                System.getProperty("os.arch"), Runtime.version());
        if (!pagingOnly) {
            features();
            creationPaths();
            modes();
            serveOneFault();
            System.out.println();
        }
        if (file != null && url != null) {
            throw new CommandLine.ParameterException(new CommandLine(this), "give --file or --url, not both");
        }
        if (endpoint != null) {
            System.setProperty("aws.endpointUrl", endpoint);
        }
        if (file != null || url != null) {
            return new FileDemo(file, url, lookups, threads, seed).run() ? 0 : 1;
        }
        PagingDemo paging = new PagingDemo(size, lookups, threads, faultAround, maxReadahead, sourceLatencyMicros, seed,
                !noProgress && System.console() != null);
        boolean ok = paging.run();
        if (!noPager) {
            System.out.println();
            ok &= new PagerDemo(size, threads, seed).run();
        }
        return ok ? 0 : 1;
    }

    /** "64K", "1G", "4096" to bytes. */
    static final class Sizes implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim().toUpperCase(java.util.Locale.ROOT);
            long unit = 1;
            char last = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
            switch (last) {
                case 'K' -> unit = 1L << 10;
                case 'M' -> unit = 1L << 20;
                case 'G' -> unit = 1L << 30;
                default -> {
                }
            }
            String digits = unit == 1 ? v : v.substring(0, v.length() - 1);
            try {
                long n = Long.parseLong(digits);
                if (n <= 0) {
                    throw new CommandLine.TypeConversionException("must be positive: " + value);
                }
                return Math.multiplyExact(n, unit);
            } catch (NumberFormatException | ArithmeticException e) {
                throw new CommandLine.TypeConversionException("not a size: " + value + " (examples: 4096, 64K, 512M, 1G)");
            }
        }
    }

    private static void features() {
        Set<Feature> supported = Userfaultfd.kernelFeatures();
        System.out.printf("Features (%d of %d):%n", supported.size(), Feature.values().length);
        for (Feature f : Feature.values()) {
            System.out.printf("  %-3s %-20s since Linux %s%n", supported.contains(f) ? "yes" : "NO", f, f.sinceKernel());
        }
        System.out.println();
    }

    private static void creationPaths() {
        System.out.println("Creation paths:");
        path("/dev/userfaultfd", () -> Userfaultfd.builder().creationPath(CreationPath.DEVICE).open());
        path("userfaultfd(2)", () -> Userfaultfd.builder().creationPath(CreationPath.SYSCALL).open());
        path("userfaultfd(2), user mode only", () -> Userfaultfd.builder().creationPath(CreationPath.SYSCALL).userModeOnly(true).open());
        System.out.println();
    }

    private static void path(String name, Supplier<Userfaultfd> open) {
        try (Userfaultfd u = open.get()) {
            System.out.printf("  %-32s works (ioctls %s)%n", name, u.ioctls());
        } catch (UffdException e) {
            System.out.printf("  %-32s refused: %s%n", name, e.getMessage());
        }
    }

    private static void modes() throws IOException {
        List<Set<RegisterMode>> combos = List.of(EnumSet.of(RegisterMode.MISSING), EnumSet.of(RegisterMode.WP),
                EnumSet.of(RegisterMode.MINOR), EnumSet.allOf(RegisterMode.class));
        System.out.println("Register modes per memory type (ioctls allowed on the range, or why not):");
        try (Mapping anon = Memory.anonymous(Memory.pageSize())) {
            modes("anonymous", anon.segment(), combos);
        }
        try (SharedMemory shm = Memory.shared(Memory.pageSize())) {
            modes("shmem (memfd)", shm.view().segment(), combos);
        }
        HugePageSize huge = HugePageSize.SIZE_2MB;
        boolean reserved = false;
        long before = Memory.totalHugePages(huge);
        if (Memory.freeHugePages(huge) < 1) {
            try {
                reserved = Memory.reserveHugePages(huge, 1);
            } catch (IOException e) {
                reserved = false;
            }
        }
        if (Memory.freeHugePages(huge) < 1) {
            System.out.printf("  %-15s no free 2 MiB huge page (as root: echo 1 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)%n", "hugetlb");
        } else {
            try (Mapping h = Memory.hugetlb(huge.bytes(), huge)) {
                modes("hugetlb 2 MiB", h.segment(), combos);
            }
        }
        if (reserved) {
            java.nio.file.Files.writeString(java.nio.file.Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
                    Long.toString(before));
        }
        System.out.println();
    }

    private static void modes(String type, MemorySegment memory, List<Set<RegisterMode>> combos) {
        for (Set<RegisterMode> modes : combos) {
            try (Userfaultfd u = Userfaultfd.open()) {
                Registration r = u.register(memory, modes);
                System.out.printf("  %-15s %-22s %s%n", type, modes, r.ioctls());
            } catch (UffdException e) {
                System.out.printf("  %-15s %-22s refused: %s%n", type, modes, e.errnoName());
            }
        }
    }

    /**
     * A handler thread waits for faults; an application thread touches a registered page (taking
     * the fault in a native call, which keeps the JVM's safepoints free to proceed); the handler
     * fills the page with UFFDIO_COPY and the application thread reads what was served.
     */
    private static void serveOneFault() throws Exception {
        System.out.println("Serving one page fault:");
        long page = Memory.pageSize();
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.THREAD_ID).open();
             Mapping region = Memory.anonymous(16 * page)) {
            uffd.register(region.segment(), RegisterMode.MISSING);
            CompletableFuture<UffdEvent.PageFault> served = new CompletableFuture<>();
            Thread handler = Thread.ofPlatform().name("uffd4j-demo-handler").start(() -> {
                try (EventBuffer events = EventBuffer.allocate(8); Arena arena = Arena.ofConfined()) {
                    MemorySegment staging = arena.allocate(page, page);
                    if (uffd.read(events, Duration.ofSeconds(10)) == 0) {
                        throw new IllegalStateException("no fault arrived within 10 s");
                    }
                    UffdEvent.PageFault fault = (UffdEvent.PageFault) events.event(0);
                    long pageStart = fault.address() & -page;
                    staging.fill((byte) 0x5a);
                    staging.set(ValueLayout.JAVA_LONG, 0, pageStart);
                    uffd.copy(pageStart, staging.address(), page, 0);
                    served.complete(fault);
                } catch (Throwable t) {
                    served.completeExceptionally(t);
                }
            });
            long offset = 5 * page;
            long t0 = System.nanoTime();
            region.populateRead(offset, page); // the application touches the page: it faults, waits, resumes
            long waitedNanos = System.nanoTime() - t0;
            UffdEvent.PageFault fault = served.get(10, TimeUnit.SECONDS);
            handler.join();
            long first = region.segment().get(ValueLayout.JAVA_LONG, offset);
            byte filler = region.segment().get(ValueLayout.JAVA_BYTE, offset + page - 1);
            boolean ok = first == region.address() + offset && filler == 0x5a;
            System.out.printf("  fault        %s%n", fault);
            System.out.printf("  resolved by  UFFDIO_COPY of %d bytes from the handler thread%n", page);
            System.out.printf("  the touching thread waited %.1f us and read back %s%n", waitedNanos / 1000.0,
                    ok ? "exactly the served contents" : "WRONG CONTENTS");
            if (!ok) {
                System.exit(1);
            }
        }
    }
}
