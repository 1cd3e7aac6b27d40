package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Case a ({@code copy4k-seq}: one 4 KiB read fault resolved by UFFDIO_COPY) with the handler
 * thread in this JVM and in another one that was handed the userfaultfd over a unix socket, as
 * the pager is ({@link RemoteHandler}): what serving faults from another process costs. The same
 * {@link RawHandler} serves both. {@code cross-process-java} touches with plain Java loads, which
 * only a handler in another process allows.
 */
@State(Scope.Thread)
public class PagerBench extends ThroughputBench {

    @Param({"in-process", "cross-process", "cross-process-java"})
    public String handler;

    private Workload workload;
    private Toucher toucher;

    @Setup(Level.Trial)
    public void open() {
        boolean remote = !handler.equals("in-process");
        workload = remote ? Workload.openRemote(Case.COPY4K_SEQ) : Workload.open(Case.COPY4K_SEQ);
        toucher = workload.toucher(0, handler.endsWith("-java"));
    }

    @Benchmark
    @OperationsPerInvocation(Case.OPS)
    public void touch() {
        toucher.invocation();
    }

    @TearDown(Level.Invocation)
    public void reset() {
        toucher.reset();
    }

    @TearDown(Level.Trial)
    public void close() {
        toucher.close();
        workload.close();
    }
}
