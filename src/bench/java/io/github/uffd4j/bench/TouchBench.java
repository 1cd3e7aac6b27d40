package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A benchmark whose op is one touch of a {@link Toucher} over a {@link Workload} that a subclass
 * opens in its trial set-up: the benchmark method and the tear-downs they all share (JMH runs
 * them for each concrete subclass, under the subclass's name).
 */
@State(Scope.Thread)
public abstract class TouchBench extends ThroughputBench {

    protected Workload workload;
    protected Toucher toucher;

    @Benchmark
    @OperationsPerInvocation(Case.OPS)
    public void touch() {
        toucher.invocation();
    }

    /** Whether each invocation starts again from missing (or protected) pages; default yes. */
    protected boolean resetEachInvocation() {
        return true;
    }

    /** Stops what a subclass started besides the workload; runs before the workload closes. */
    protected void stopExtras() throws InterruptedException {
    }

    @TearDown(Level.Invocation)
    public void reset() {
        if (resetEachInvocation()) {
            toucher.reset();
        }
    }

    @TearDown(Level.Trial)
    public void close() throws InterruptedException {
        stopExtras();
        toucher.close();
        workload.close();
    }
}
