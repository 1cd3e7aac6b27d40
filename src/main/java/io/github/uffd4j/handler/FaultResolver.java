package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;
import io.github.uffd4j.RangeNotRegisteredException;
import io.github.uffd4j.UffdEvent;
import io.github.uffd4j.UffdException;

import java.lang.foreign.MemorySegment;

/**
 * Decides what one fault needs and gets it done, on its handler thread: a missing page is claimed
 * with the block around it and loaded ({@link PageLoader}); a fault on a page recorded present is
 * either a late duplicate (woken) or a page zapped after it was filled (loaded again: the kernel's
 * PAGEMAP_SCAN says which); a write-protect fault runs the region's hook, then lifts the
 * protection; a region with a {@link FaultHandler} gets the {@link Fault}; a fault raised by one of
 * the service's own threads is failed loudly instead of deadlocking. Confined to its thread.
 */
final class FaultResolver {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private final WorkSlot slot;
    private final PageLoader loader;
    private final Fault fault;
    private long ownPages;
    private long ownBytes;

    FaultResolver(ServiceContext ctx, ThreadRoster roster, WorkSlot slot, PageLoader loader, Fault fault) {
        this.ctx = ctx;
        this.roster = roster;
        this.slot = slot;
        this.loader = loader;
        this.fault = fault;
    }

    /** Pages and bytes this thread loaded for faults (for its JFR batch events). */
    long ownPages() {
        return ownPages;
    }

    long ownBytes() {
        return ownBytes;
    }

    /** Serves one fault; false if the watchdog abandoned this thread meanwhile. */
    boolean resolve(long address, long flags, int faultTid, long t0) {
        ctx.counters().faults.increment();
        Region r = ctx.regions().find(address);
        boolean current = true;
        if (r == null) {
            // not ours (any more): wake whoever waits so that it sees what the address holds now
            ctx.installer().wake(address & -Memory.pageSize(), Memory.pageSize());
        } else {
            int p = r.pageOf(address);
            if (roster.isOwnThread(faultTid)) {
                selfFault(r, p, faultTid, address);
            } else if ((flags & UffdEvent.FLAG_WP) != 0) {
                current = writeFault(r, p);
            } else if (r.handler() != null) {
                current = custom(r, p, address, flags, faultTid);
            } else {
                current = missing(r, p);
            }
        }
        ctx.counters().latency.record(System.nanoTime() - t0);
        return current;
    }

    private boolean missing(Region r, int p) {
        PageTable pages = r.pages();
        for (;;) {
            long epoch = pages.zapEpoch();
            int s = pages.state(p);
            switch (s) {
                case PageTable.MISSING -> {
                    if (!pages.claim(p)) {
                        continue;
                    }
                    ServiceContext.Settings settings = ctx.settings();
                    int base = (int) Math.max(1, settings.faultAround() >>> r.pageShift());
                    int max = (int) Math.max(base, settings.maxReadahead() >>> r.pageShift());
                    // a page retried after a failed attempt is loaded alone, and no block reaches into pages of a
                    // block that failed: one page whose source hangs must not fail or stall its neighbours
                    int unit = r.moveUnitPages();
                    long block = pages.loadAlone(p) ? ((long) p << 32) | (p + 1)
                            : r.readahead().block(p, base, max, r.firstMoveUnit(), unit);
                    int start = (int) (block >>> 32);
                    int end = (int) block;
                    int s0 = p;
                    while (s0 > start && !pages.loadAlone(s0 - 1) && pages.claim(s0 - 1)) {
                        s0--;
                    }
                    int e0 = p + 1;
                    while (e0 < end && !pages.loadAlone(e0) && pages.claim(e0)) {
                        e0++;
                    }
                    askAhead(r, p); // the readahead threads load what comes next while this block loads
                    boolean current = loader.load(r, s0, e0, p, epoch);
                    ownPages += e0 - s0;
                    ownBytes += (long) (e0 - s0) << r.pageShift();
                    return current;
                }
                case PageTable.PRESENT, PageTable.PRESENT_WOKEN -> {
                    // Usually a thread faulted on the page just served and its message was read late:
                    // wake it. But a REMOVE can race a fill (the kernel zaps after the event is read),
                    // leaving the state stale: then load the page again.
                    int inKernel = roster.kernelPresent(r, p);
                    if (inKernel == 1 || (inKernel < 0 && s == PageTable.PRESENT)) {
                        if (inKernel == 1 || pages.cas(p, PageTable.PRESENT, PageTable.PRESENT_WOKEN)) {
                            ctx.counters().alreadyPresent.increment();
                            ctx.installer().wake(r.pageAddress(p), r.pageSize());
                            return true;
                        }
                    } else if (pages.cas(p, (byte) s, PageTable.LOADING)) {
                        return loader.load(r, p, p + 1, p, epoch);
                    }
                }
                case PageTable.LOADING -> {
                    // another thread is loading it; its ioctl, or its wake once it has recorded the page
                    // (PageTable.awaitLoad), wakes this fault. A reader that caught up with the pages
                    // loaded ahead of it wants more of them ahead.
                    if (!pages.awaitLoad(p)) {
                        continue; // the load ended meanwhile
                    }
                    askAhead(r, p);
                    ctx.counters().alreadyPresent.increment();
                    return true;
                }
                default -> {
                    // FAILED pages are poisoned and GONE pages unmapped: nothing waits there
                    ctx.installer().wake(r.pageAddress(p), r.pageSize());
                    return true;
                }
            }
        }
    }

    /**
     * For a fault continuing a sequential stream: asks the readahead threads for the stream's
     * next windows (one more than there are threads, each window a run of its own, so that they
     * load in parallel). Nothing for random faults, or when the service has no readahead threads.
     */
    private void askAhead(Region r, int p) {
        ReadaheadQueue queue = ctx.readahead();
        if (queue == null) {
            return;
        }
        int unit = r.moveUnitPages();
        int firstUnit = r.firstMoveUnit();
        long run = r.readahead().ahead(p, ctx.settings().readaheadThreads() + 1, firstUnit, unit);
        if (run == 0) {
            return;
        }
        int start = (int) (run >>> 32);
        int end = (int) run;
        int piece = Math.max(1, r.readahead().window(p));
        for (int s = start; s < end; ) {
            int e = Math.min(end, s + piece);
            if (unit > 0 && piece >= unit) {
                int aligned = Readahead.unitStartAtOrBefore(e, firstUnit, unit); // whole blocks move into place
                if (aligned > s) {
                    e = aligned;
                }
            }
            if (!queue.offer(r, s, e)) {
                return; // full: the rest loads when touched
            }
            s = e;
        }
    }

    private boolean writeFault(Region r, int p) {
        ctx.counters().writeFaults.increment();
        WriteFaultHook hook = r.writeHook();
        if (hook != null) {
            long offset = (long) p << r.pageShift();
            slot.begin("the write-protect hook", r, -1, p, p);
            Throwable error = null;
            try {
                hook.beforeWrite(r, offset, r.isRemote() ? (r.alias() != null ? r.alias().asSlice(offset, r.pageSize()) : MemorySegment.NULL)
                        : r.memory().asSlice(offset, r.pageSize()));
            } catch (Throwable t) {
                error = t;
            }
            if (!slot.end()) {
                return false;
            }
            if (error != null) {
                ctx.counters().failures.increment();
                ctx.failures().report(r, p, 1, FaultFailure.Kind.SOURCE_FAILED, FaultFailure.Outcome.NONE, error);
            }
        }
        try {
            ctx.installer().unprotect(r, p);
        } catch (UffdException | RangeNotRegisteredException x) {
            ctx.installer().wake(r.pageAddress(p), r.pageSize());
        }
        return true;
    }

    private boolean custom(Region r, int p, long address, long flags, int faultTid) {
        for (;;) {
            fault.reset(r, address, flags, faultTid);
            Throwable error = null;
            slot.begin("the fault handler", r, p, p, p + 1);
            try {
                r.handler().onFault(fault);
            } catch (Throwable t) {
                error = t;
            }
            if (!slot.end()) {
                return false;
            }
            if (fault.resolved() && error == null) {
                return true;
            }
            FaultFailure.Kind kind = error != null ? FaultFailure.Kind.SOURCE_FAILED : FaultFailure.Kind.NOT_RESOLVED;
            if (error == null) {
                error = new IllegalStateException("the FaultHandler returned without resolving " + fault);
            }
            if (fault.resolved()) {
                ctx.counters().failures.increment();
                ctx.failures().report(r, p, 1, kind, FaultFailure.Outcome.NONE, error);
                return true;
            }
            if (!ctx.failures().attemptFailed(r, p, kind, error, false)) {
                return true;
            }
        }
    }

    private void selfFault(Region r, int p, int faultTid, long address) {
        ctx.counters().selfFaults.increment();
        ctx.counters().failures.increment();
        IllegalStateException cause = new IllegalStateException("thread " + faultTid + " of this FaultService faulted on "
                + "its own region at 0x" + Long.toHexString(address) + " (" + r + "): a page source or fault handler must "
                + "not touch the memory the service serves; the fault was failed instead of deadlocking");
        LOG.log(System.Logger.Level.ERROR, cause.getMessage());
        ctx.failures().fallback(r, p, FaultFailure.Kind.SELF_FAULT, cause, true);
    }
}
