package io.github.uffd4j.bench;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.Region;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;

/**
 * Case a through the runtime ({@code rt-copy4k-seq}): one page per fault (no fault-around, no
 * readahead, no background fill, one handler thread), touched with {@link Region#load} as Java
 * code must. What this adds to the raw case is the runtime's bookkeeping, the source call, and
 * the madvise each touch goes through; its allocation per op is the runtime fault path's.
 */
@State(Scope.Thread)
public class RuntimeFaultBench extends ThroughputBench {

    private final long page = Memory.pageSize();
    private final long chunkBytes = Case.OPS * page;
    private Mapping source;
    private Mapping memory;
    private FaultService service;
    private Region region;
    private Latencies.Recorder recorder;

    @Setup(Level.Trial)
    public void open() {
        if (Workload.CROSS_CPU) {
            NativeTouch.pinTo(0);
        }
        source = Memory.anonymous(chunkBytes);
        Workload.fillPattern(source.segment(), page);
        memory = Memory.anonymous(chunkBytes);
        service = FaultService.builder().threads(1).faultAround(0).maxReadahead(0).backgroundFill(false).start();
        region = service.region(memory.segment()).source(this::fill).name("rt-copy4k").register();
        recorder = Latencies.register();
    }

    private void fill(long offset, MemorySegment destination) {
        MemorySegment.copy(source.segment(), offset, destination, 0, destination.byteSize());
    }

    @Benchmark
    @OperationsPerInvocation(Case.OPS)
    public void touch() {
        for (long off = 0; off < chunkBytes; off += page) {
            long t0 = System.nanoTime();
            region.load(off, 1);
            recorder.record(System.nanoTime() - t0);
        }
    }

    @TearDown(Level.Invocation)
    public void reset() {
        region.reset(0, chunkBytes);
    }

    @TearDown(Level.Trial)
    public void close() {
        Latencies.unregister(recorder);
        service.close();
        memory.close();
        source.close();
    }
}
