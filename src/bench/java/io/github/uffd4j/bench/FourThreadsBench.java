package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Case f: four touching threads, each on its own chunk, one handler thread reading up to 64
 * messages per read. JMH sums the threads' ops/s, as the C reference does.
 */
@State(Scope.Benchmark)
public class FourThreadsBench extends ThroughputBench {

    private Workload workload;
    private final AtomicInteger chunks = new AtomicInteger();

    @Setup(Level.Trial)
    public void open() {
        workload = Workload.open(Case.FOUR_THREADS);
    }

    @TearDown(Level.Trial)
    public void close() {
        workload.close();
    }

    /** One touching thread's chunk. */
    @State(Scope.Thread)
    public static class Slot {
        private Toucher toucher;

        @Setup(Level.Trial)
        public void open(FourThreadsBench bench) {
            toucher = bench.workload.toucher(bench.chunks.getAndIncrement());
        }

        @TearDown(Level.Invocation)
        public void reset() {
            toucher.reset();
        }

        @TearDown(Level.Trial)
        public void close() {
            toucher.close();
        }
    }

    @Benchmark
    @Threads(4)
    @OperationsPerInvocation(Case.OPS)
    public void touch(Slot slot) {
        slot.toucher.invocation();
    }
}
