package io.github.uffd4j.bench;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

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
import org.openjdk.jmh.infra.BenchmarkParams;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The plain file of {@link DatasetBench} through {@code mmap} (FileChannel.map, the kernel's own
 * readahead) with the same cold page cache: {@code firstByte}, {@code lookups} and {@code scan}
 * as there, the baseline a lazy plain file has to be honest about; {@code lookupsRandomAccess}
 * with the mapping advised MADV_RANDOM, against the lazy side's random-access setting.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class MmapBench {

    @Param({"1073741824"})
    public long size;

    private String benchmark;
    private Path file;
    private long[] offsets;
    private Arena arena;
    private FileChannel channel;
    private Mapping advised;

    @Setup(Level.Trial)
    public void prepare(BenchmarkParams params) throws IOException {
        benchmark = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
        file = Datasets.plain(size);
        offsets = DatasetBench.offsets(size);
    }

    @Setup(Level.Invocation)
    public void cold() throws IOException {
        Datasets.dropCache(file);
    }

    private MemorySegment map() throws IOException {
        channel = FileChannel.open(file);
        arena = Arena.ofShared();
        return channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
    }

    @Benchmark
    public long firstByte() throws IOException {
        return map().get(ValueLayout.JAVA_BYTE, offsets[0]);
    }

    @Benchmark
    public long lookups() throws IOException {
        return lookups(map());
    }

    /** The lookups with the mapping advised MADV_RANDOM: a fault reads just its page, no read-around. */
    @Benchmark
    public long lookupsRandomAccess() {
        int fd = Native.open(file.toString(), Abi.O_RDWR | Abi.O_CLOEXEC);
        if (fd < 0) {
            throw new IllegalStateException("open " + file + ": errno " + Native.errno());
        }
        advised = Memory.mapShared(fd, size, Memory.pageSize());
        Native.close(fd); // the mapping keeps the file
        advised.randomAccess(0, size);
        return lookups(advised.segment());
    }

    private long lookups(MemorySegment m) {
        long sum = 0;
        for (int i = 1; i < offsets.length; i++) {
            sum += m.get(ValueLayout.JAVA_LONG_UNALIGNED, offsets[i]);
        }
        return sum;
    }

    @Benchmark
    public long scan() throws IOException {
        return DatasetBench.sum(map());
    }

    @TearDown(Level.Invocation)
    public void close() throws IOException {
        DatasetBench.record("MmapBench", benchmark, "mmap", -1, 0);
        if (advised != null) {
            advised.close();
            advised = null;
        } else {
            arena.close();
            channel.close();
        }
    }
}
