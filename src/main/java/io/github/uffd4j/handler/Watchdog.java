package io.github.uffd4j.handler;

import java.time.Duration;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * Watches the user code the service runs (page sources, fault handlers, write hooks) and takes
 * over an attempt that runs past the policy's timeout, or is still running when the service
 * closes: the attempt is abandoned (its thread's late result will be dropped), the pages of its
 * run are given back, the page a thread waits for is retried or failed by the policy, the rest of
 * the abandoned thread's batch is woken, and a fresh thread takes its place. Also flushes the
 * aggregated failure log. Runs on its own thread.
 */
final class Watchdog implements Runnable {

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private final long timeoutNanos;
    private volatile boolean stopped;
    private final Thread thread;

    Watchdog(ServiceContext ctx, ThreadRoster roster) {
        this.ctx = ctx;
        this.roster = roster;
        this.timeoutNanos = ctx.settings().policy().timeout().toNanos();
        this.thread = Thread.ofPlatform().daemon().name("uffd4j-watchdog-" + ctx.uffd().fd()).unstarted(this);
    }

    void start() {
        thread.start();
    }

    void stop() {
        stopped = true;
        LockSupport.unpark(thread);
    }

    Thread thread() {
        return thread;
    }

    @Override
    public void run() {
        long period = Math.max(1_000_000L, Math.min(timeoutNanos / 4, 100_000_000L));
        while (!stopped) {
            LockSupport.parkNanos(period);
            long now = System.nanoTime();
            for (WorkSlot s : roster.slots()) {
                if (s.isBusy() && now - s.since > timeoutNanos) {
                    abandon(s, false);
                }
            }
            ctx.reporter().flush();
        }
    }

    /** Abandons every attempt still running (at close): the pages a thread waits for get an error. */
    void abandonAll() {
        for (WorkSlot s : roster.slots()) {
            abandon(s, true);
        }
    }

    private void abandon(WorkSlot s, boolean forClose) {
        if (!s.abandon()) {
            return;
        }
        Region r = s.region;
        int p = s.faultPage;
        int start = s.runStart;
        int end = s.runEnd;
        Duration limit = forClose ? ctx.settings().closeTimeout() : ctx.settings().policy().timeout();
        TimeoutException cause = new TimeoutException((forClose ? "the FaultService closed while " : "") + s.what
                + " ran for more than " + limit + " on pages [" + start + ", " + Math.max(end, start + 1) + ") of " + r);
        ctx.counters().timeouts.increment();
        PageInstaller installer = ctx.installer();
        if (p >= 0) {
            boolean block = installer.keepOnly(r, start, end, p); // which page hangs is not known
            if (forClose) {
                ctx.counters().failures.increment();
                ctx.failures().fallback(r, p, FaultFailure.Kind.CLOSED, cause, true);
            } else {
                ctx.failures().timedOut(r, p, cause, block);
            }
        } else if (end > start) {
            installer.release(r, start, end);
            ctx.failures().report(r, start, end - start, FaultFailure.Kind.TIMED_OUT, FaultFailure.Outcome.NONE, cause);
        } else {
            // a write-protect hook: let the write go ahead
            try {
                installer.unprotect(r, start);
            } catch (RuntimeException x) {
                cause.addSuppressed(x);
            }
            ctx.failures().report(r, start, 1, FaultFailure.Kind.TIMED_OUT, FaultFailure.Outcome.NONE, cause);
        }
        s.owner.wakeUnserved();
        roster.replace(s.owner);
    }
}
