package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Case a ({@code copy4k-seq}: one 4 KiB read fault resolved by UFFDIO_COPY) with the handler
 * thread in this JVM and in another one that was handed the userfaultfd over a unix socket, as
 * the pager is ({@link RemoteHandler}): what serving faults from another process costs. The same
 * {@link RawHandler} serves both. {@code cross-process-java} touches with plain Java loads, which
 * only a handler in another process allows.
 */
@State(Scope.Thread)
public class PagerBench extends TouchBench {

    @Param({"in-process", "cross-process", "cross-process-java"})
    public String handler;


    @Setup(Level.Trial)
    public void open() {
        boolean remote = !handler.equals("in-process");
        workload = remote ? Workload.openRemote(Case.COPY4K_SEQ) : Workload.open(Case.COPY4K_SEQ);
        toucher = workload.toucher(0, handler.endsWith("-java"));
    }
}
