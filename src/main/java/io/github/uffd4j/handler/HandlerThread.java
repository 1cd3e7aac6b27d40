package io.github.uffd4j.handler;

import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.Memory;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.Userfaultfd;

import java.time.Duration;
import java.util.Arrays;

/**
 * One handler thread: reads up to a batch of messages in one non-blocking read(2) with the
 * {@link ZapGate} closed (waiting in poll(2) on the userfaultfd and the stop doorbell only when
 * nothing was pending), applies the REMOVE / UNMAP /
 * REMAP events to the {@link RegionTable} before the gate opens again, then has its
 * {@link FaultResolver} serve the faults of the batch. An unknown event is logged and skipped;
 * every other message of the batch is still handled. If the watchdog abandons the thread (its
 * page source overran the timeout), it stops after the attempt returns; a replacement already runs.
 */
final class HandlerThread extends ServiceThread implements PageInstaller.EventPump {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());
    private static final Duration IDLE_WAIT = Duration.ofSeconds(1);

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private EventBuffer buffer;
    private EventBuffer aux;
    // Faults read and not yet served: the current batch, plus any read while applying events under
    // EAGAIN. If this thread is abandoned, the watchdog wakes the rest (their threads fault again).
    private long[] pendingAddress = new long[16];
    private long[] pendingFlags = new long[16];
    private int[] pendingTid = new int[16];
    private int pendingCount;
    /** Made once: the fault path allocates nothing. */
    private final EventApplier.FaultSink deferred = this::defer;
    private volatile int pendingHead;

    HandlerThread(ServiceContext ctx, ThreadRoster roster) {
        this.ctx = ctx;
        this.roster = roster;
    }

    @Override
    public void run() {
        int tid = Userfaultfd.currentThreadId();
        roster.addOwnThread(tid);
        Staging staging = null;
        try {
            staging = new Staging(roster.stagingBytes());
            buffer = EventBuffer.allocate(ctx.settings().batchSize());
            aux = EventBuffer.allocate(ctx.settings().batchSize());
            FaultResolver resolver = new FaultResolver(ctx, roster, slot,
                    new PageLoader(slot, staging, ctx.installer(), ctx.failures(), ctx.counters(), this),
                    new Fault(ctx.installer(), ctx.failures(), staging, ctx.uffd()));
            while (!slot.isAbandoned()) {
                // Read first and wait only when nothing is pending: under load the next fault is
                // usually queued by the time a batch is served, and a poll(2) per batch costs more
                // than an empty read.
                if (serveBatch(resolver)) {
                    continue;
                }
                if (!ctx.uffd().await(IDLE_WAIT, ctx.doorbell()) && ctx.doorbell().isRung()) {
                    return;
                }
            }
        } catch (UffdClosedException closed) {
            // the service closed the descriptor: nothing left to serve
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "uffd4j handler thread failed; starting a replacement", t);
            wakeUnserved();
            roster.replace(this);
        } finally {
            if (buffer != null) {
                buffer.close();
            }
            if (aux != null) {
                aux.close();
            }
            if (staging != null) {
                staging.close();
            }
            roster.removeOwnThread(tid);
            roster.retired(this);
        }
    }

    /** Reads one batch without waiting and serves it; returns false when nothing was pending. */
    private boolean serveBatch(FaultResolver resolver) {
        pendingCount = 0;
        pendingHead = 0;
        int n = EventApplier.readAndApply(ctx, buffer, deferred);
        if (n == 0) {
            return false;
        }
        long t0 = System.nanoTime();
        slot.inBatch = true;
        int faults = pendingCount;
        long pages0 = resolver.ownPages();
        long bytes0 = resolver.ownBytes();
        try {
            while (pendingHead < pendingCount && !slot.isAbandoned()) {
                int i = pendingHead;
                pendingHead = i + 1;
                if (!resolver.resolve(pendingAddress[i], pendingFlags[i], pendingTid[i], t0)) {
                    return true; // abandoned
                }
            }
        } finally {
            slot.inBatch = false;
        }
        BatchEvents.commit(n, faults, resolver.ownPages() - pages0, resolver.ownBytes() - bytes0, System.nanoTime() - t0);
        return true;
    }

    @Override
    public boolean pump() {
        try {
            return EventApplier.readAndApply(ctx, aux, deferred) > 0;
        } catch (UffdClosedException closed) {
            return false;
        }
    }

    private void defer(long address, long flags, int faultTid) {
        int n = pendingCount;
        if (n == pendingAddress.length) {
            pendingAddress = Arrays.copyOf(pendingAddress, n * 2);
            pendingFlags = Arrays.copyOf(pendingFlags, n * 2);
            pendingTid = Arrays.copyOf(pendingTid, n * 2);
        }
        pendingAddress[n] = address;
        pendingFlags[n] = flags;
        pendingTid[n] = faultTid;
        pendingCount = n + 1;
    }

    @Override
    public void wakeUnserved() {
        for (int i = pendingHead; i < pendingCount; i++) {
            ctx.installer().wake(pendingAddress[i] & -Memory.pageSize(), Memory.pageSize());
        }
        pendingHead = pendingCount;
    }
}
