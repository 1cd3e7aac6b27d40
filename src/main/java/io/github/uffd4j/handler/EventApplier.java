package io.github.uffd4j.handler;

import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.UnknownEventException;

import java.time.Duration;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one way the service reads the userfaultfd: without waiting, with the {@link ZapGate}
 * closed, applying the REMOVE / UNMAP / REMAP events to the {@link RegionTable} before the gate
 * opens again and handing each fault to the caller. Read and application happen under the
 * table's event-order lock: without it, an event read by one thread could be applied after a
 * later one read by another (an UNMAP after the REMAP that followed it). Used by the handler threads and, at close,
 * by {@link Retirement}. An unknown event is logged and skipped; the other messages are handled.
 */
final class EventApplier {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());

    /** Where the faults read go. */
    interface FaultSink {
        void fault(long address, long flags, int threadId);
    }

    private EventApplier() {
    }

    /** Reads into {@code b}, applies the events, gives the faults to {@code faults}; returns the messages read. */
    static int readAndApply(ServiceContext ctx, EventBuffer b, FaultSink faults) {
        ZapGate gate = ctx.gate();
        ReentrantLock order = ctx.regions().eventOrder();
        gate.close();
        order.lock();
        try {
            int n = ctx.uffd().read(b, Duration.ZERO);
            for (int i = 0; i < n; i++) {
                try {
                    switch (b.kind(i)) {
                        case PAGEFAULT -> faults.fault(b.faultAddress(i), b.faultFlags(i), b.faultThreadId(i));
                        case REMOVE -> {
                            ctx.counters().events.increment();
                            ctx.regions().removed(b.rangeStart(i), b.rangeEnd(i));
                        }
                        case UNMAP -> {
                            ctx.counters().events.increment();
                            ctx.regions().unmapped(b.rangeStart(i), b.rangeEnd(i));
                        }
                        case REMAP -> {
                            ctx.counters().events.increment();
                            ctx.regions().remapped(b.remapFrom(i), b.remapTo(i), b.remapLength(i));
                        }
                        case FORK -> LOG.log(System.Logger.Level.ERROR, "uffd4j: a FORK event the service never asked for");
                    }
                } catch (UnknownEventException unknown) {
                    LOG.log(System.Logger.Level.ERROR, "uffd4j: skipping a message this version does not know", unknown);
                }
            }
            return n;
        } finally {
            order.unlock();
            gate.open();
        }
    }
}
