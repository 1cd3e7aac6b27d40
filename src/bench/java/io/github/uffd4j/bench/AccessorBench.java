package io.github.uffd4j.bench;

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

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * What the accessors' safety costs on memory already loaded (issue 10, finding 1): a
 * {@link LazySegment#getLong} and a 64 KiB {@link LazySegment#copyTo} against a plain Java load
 * and copy of the same memory. On anonymous memory the accessors take the fast path (inside the
 * zap gate, a trusted page table); on shared memory (MINOR mode, which reclaim can zap without
 * any event) they always read through the kernel (process_vm_readv). Not part of the Java/C
 * table: run it with {@code scripts/bench --accessors}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
public class AccessorBench {

    private static final long SIZE = 64L << 20;
    private static final int OFFSETS = 1 << 16;

    @Param({"anonymous", "shared"})
    public String memory;

    private LazySegment data;
    private MemorySegment plain;
    private MemorySegment dst;
    private Arena arena;
    private final long[] offsets = new long[OFFSETS];
    private final long[] blocks = new long[OFFSETS];
    private int i;

    @Setup(Level.Trial)
    public void open() {
        data = LazySegment.builder(SIZE, (offset, d) -> d.fill((byte) (offset >>> 12)))
                .shared(memory.equals("shared")).open();
        data.load(0, SIZE);
        plain = data.segment();
        arena = Arena.ofConfined();
        dst = arena.allocate(64 * 1024, 64);
        SplittableRandom random = new SplittableRandom(42);
        for (int k = 0; k < OFFSETS; k++) {
            offsets[k] = random.nextLong(SIZE - 8) & ~7L;
            blocks[k] = random.nextLong(SIZE / (64 * 1024)) * 64 * 1024;
        }
    }

    @Benchmark
    public long getLong() {
        return data.getLong(offsets[i++ & (OFFSETS - 1)]);
    }

    @Benchmark
    public long plainGetLong() {
        return plain.get(ValueLayout.JAVA_LONG_UNALIGNED, offsets[i++ & (OFFSETS - 1)]);
    }

    @Benchmark
    public MemorySegment copy64k() {
        data.copyTo(blocks[i++ & (OFFSETS - 1)], dst);
        return dst;
    }

    @Benchmark
    public MemorySegment plainCopy64k() {
        MemorySegment.copy(plain, blocks[i++ & (OFFSETS - 1)], dst, 0, dst.byteSize());
        return dst;
    }

    @TearDown(Level.Trial)
    public void close() {
        arena.close();
        data.close();
    }
}
