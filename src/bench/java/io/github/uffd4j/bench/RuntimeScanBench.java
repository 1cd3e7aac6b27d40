package io.github.uffd4j.bench;

import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Case g: a lazy sequential scan through the runtime. One op opens a {@link LazySegment} of
 * {@link #size} bytes over an in-memory source (defaults: 2 handler threads, 2 readahead threads
 * unless {@link #readaheadThreads} says otherwise, 64 KiB fault-around growing to 2 MiB readahead,
 * background fill on) and reads one long from every page with its
 * accessors; closing it is untimed. Reported as time per scan; the report turns it into GB/s.
 * With {@code pages=2m} the lazy memory is hugetlb (scripts/bench reserves the huge pages).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class RuntimeScanBench {

    @Param({"1073741824"})
    public long size;

    /** Page size of the lazy memory: "4k" (anonymous) or "2m" (hugetlb; needs that many free huge pages). */
    @Param({"4k"})
    public String pages;

    /** Readahead threads of the LazySegment; -1 keeps its default. */
    @Param({"-1"})
    public int readaheadThreads;

    private final long page = Memory.pageSize();
    private Mapping source;
    private long expected;
    private LazySegment segment;
    private long result;

    @Setup(Level.Trial)
    public void open() {
        if (size % page != 0) {
            throw new IllegalArgumentException("size " + size + " is not a whole number of pages");
        }
        if (Workload.CROSS_CPU) {
            NativeTouch.pinTo(0);
        }
        if (pages.equals("2m") && Memory.freeHugePages(HugePageSize.SIZE_2MB) * HugePageSize.SIZE_2MB.bytes() < size) {
            throw new IllegalStateException("pages=2m needs " + size / HugePageSize.SIZE_2MB.bytes()
                    + " free 2 MiB huge pages; " + Memory.freeHugePages(HugePageSize.SIZE_2MB) + " are free"
                    + " (as root: echo N > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)");
        } else if (!pages.equals("2m") && !pages.equals("4k")) {
            throw new IllegalArgumentException("pages must be 4k or 2m, not " + pages);
        }
        source = Memory.anonymous(size);
        Workload.fillPattern(source.segment(), page);
        expected = sum(source.segment());
    }

    private long sum(MemorySegment s) {
        long sum = 0;
        for (long off = 0; off < size; off += page) {
            sum += s.get(java.lang.foreign.ValueLayout.JAVA_LONG, off);
        }
        return sum;
    }

    private void fill(long offset, MemorySegment destination) {
        MemorySegment.copy(source.segment(), offset, destination, 0, destination.byteSize());
    }

    @Benchmark
    public long scan() {
        LazySegment.Builder b = LazySegment.builder(size, this::fill).backgroundFill(true).name("scan");
        if (readaheadThreads >= 0) {
            b.readaheadThreads(readaheadThreads);
        }
        if (pages.equals("2m")) {
            b.hugePages(HugePageSize.SIZE_2MB);
        }
        segment = b.open();
        long sum = 0;
        for (long off = 0; off < size; off += page) {
            sum += segment.getLong(off);
        }
        result = sum;
        return sum;
    }

    @TearDown(Level.Invocation)
    public void closeSegment() {
        Latencies.addFaults(segment.stats().faults());
        segment.close();
        segment = null;
        if (result != expected) {
            throw new IllegalStateException("scan read a sum of " + result + " instead of " + expected);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        source.close();
    }
}
