package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Time to safepoint while plain Java code takes faults that another process serves: a thread
 * reads 4 KiB pages with Java loads (case a, handler in another JVM as in {@link PagerBench})
 * while another calls System.gc() every millisecond. A safepoint waits for a thread stopped in a
 * fault until the fault is served, so the handler's latency becomes part of the time to reach
 * it. {@code faults=false} reads the same pages already present: the GC loop alone. The
 * {@link SafepointProfiler} reports the times from the JVM's own {@code -Xlog:safepoint}, which
 * scripts/bench turns on ({@code -jvmArgsAppend}; on the command line it replaces what a
 * {@code @Fork} annotation would say).
 */
@State(Scope.Thread)
public class PagerSafepointBench extends TouchBench {

    @Param({"true", "false"})
    public boolean faults;

    private final AtomicBoolean stop = new AtomicBoolean();
    private Thread gcLoop;

    @Setup(Level.Trial)
    public void open() {
        workload = Workload.openRemote(Case.COPY4K_SEQ);
        toucher = workload.toucher(0, true);
        if (!faults) {
            toucher.invocation(); // every page present from now on
        }
        gcLoop = Thread.ofPlatform().daemon().name("bench-gc-loop").start(() -> {
            while (!stop.get()) {
                System.gc();
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    @Override
    protected boolean resetEachInvocation() {
        return faults;
    }

    @Override
    protected void stopExtras() throws InterruptedException {
        stop.set(true);
        gcLoop.join();
    }
}
