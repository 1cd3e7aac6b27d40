package io.github.uffd4j.handler;

import io.github.uffd4j.AddressSpaceChangedException;
import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PageExistsException;
import io.github.uffd4j.RangeNotRegisteredException;
import io.github.uffd4j.UffdException;

import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * Ends the service of a region (on {@link FaultService#unregister} and at close): poisons the
 * pages never loaded (if the service was built so), so that a late access fails loudly instead of
 * reading zeros that were never the data, then unregisters the range. Bounded by a deadline even
 * when the address space keeps changing: EAGAIN is answered by reading and applying the pending
 * events itself (the handler threads may all be busy or gone), and faults read meanwhile are woken
 * once the pages are poisoned. Runs on the closing (or unregistering) thread.
 */
final class Retirement {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());

    private final ServiceContext ctx;

    Retirement(ServiceContext ctx) {
        this.ctx = ctx;
    }

    /** Retires {@code r}, giving up on poisoning at {@code deadline} (System.nanoTime()). */
    void retire(Region r, long deadline) {
        r.retire();
        FaultList faults = new FaultList();
        try (faults) {
            if (ctx.settings().poisonOnClose() && ctx.failures().poisonSupported()) {
                poisonUnloaded(r, deadline, faults);
            }
        }
        try {
            ctx.uffd().unregister(r.address(), r.byteSize());
        } catch (UffdException | RangeNotRegisteredException x) {
            LOG.log(System.Logger.Level.DEBUG, "uffd4j: unregister at close", x);
        }
        for (int i = 0; i < faults.count; i++) {
            // the range is unregistered now: a plain wake lets the thread see the page as it is
            ctx.installer().wake(faults.addresses[i] & -Memory.pageSize(), Memory.pageSize());
        }
    }

    private void poisonUnloaded(Region r, long deadline, FaultList faults) {
        PageTable pages = r.pages();
        TimeoutException cause = null;
        int p = 0;
        while (p < pages.pageCount() && System.nanoTime() < deadline) {
            if (!unloaded(pages.state(p))) {
                p++;
                continue;
            }
            int q = p + 1;
            while (q < pages.pageCount() && unloaded(pages.state(q))) {
                q++;
            }
            if (cause == null) {
                cause = new TimeoutException("the FaultService closed before the page was loaded");
            }
            poisonRun(r, p, q, cause, deadline, faults);
            p = q;
        }
        int left = 0;
        for (int i = 0; i < pages.pageCount(); i++) {
            left += unloaded(pages.state(i)) ? 1 : 0;
        }
        if (left > 0) { // the deadline passed: runs cut short or never started
            LOG.log(System.Logger.Level.ERROR, "uffd4j: closing " + r + ": " + left + " pages never loaded could not be "
                    + "poisoned in time; once unregistered they read as zeros");
        }
    }

    private static boolean unloaded(int s) {
        return s == PageTable.MISSING || s == PageTable.LOADING;
    }

    private void poisonRun(Region r, int s, int e, Throwable cause, long deadline, FaultList faults) {
        PageTable pages = r.pages();
        FaultFailure f = FailureOutcomes.failure(r, s, e - s, FaultFailure.Kind.CLOSED, FaultFailure.Outcome.ERROR, cause);
        for (int p = s; p < e; p++) {
            pages.force(p, PageTable.FAILED);
            pages.recordFailureIfAbsent(p, f);
        }
        int next = s;
        while (next < e) {
            try {
                ctx.uffd().poison(r.pageAddress(next), (long) (e - next) << r.pageShift(), 0);
                next = e;
            } catch (PageExistsException x) {
                int done = next + (int) (x.bytesDone() >>> r.pageShift());
                if (done < e) {
                    pages.force(done, PageTable.PRESENT);
                    ctx.installer().wake(r.pageAddress(done), r.pageSize());
                }
                next = done + 1;
            } catch (AddressSpaceChangedException x) {
                next += (int) (x.bytesDone() >>> r.pageShift());
                if (System.nanoTime() > deadline) {
                    break;
                }
                if (!pumpEvents(faults)) {
                    LockSupport.parkNanos(100_000);
                }
            } catch (UffdException | RangeNotRegisteredException x) {
                LOG.log(System.Logger.Level.DEBUG, "uffd4j: poison at close", x);
                break;
            }
        }
        for (int p = s; p < e; p++) {
            if (pages.state(p) != PageTable.FAILED) {
                pages.forgetFailure(p, f);
            }
        }
        for (int p = next; p < e; p++) {
            // not poisoned in time: leave them missing (after unregister a touch maps zeros, as the kernel does)
            pages.forgetFailure(p, f);
            pages.force(p, PageTable.MISSING);
        }
    }

    /** Reads the pending messages without waiting, applies the events, keeps the faults' addresses. */
    private boolean pumpEvents(FaultList faults) {
        return EventApplier.readAndApply(ctx, faults.buffer(), faults) > 0;
    }

    /**
     * Fault addresses read while retiring, woken at the end, and the buffer they are read with
     * (made on the first EAGAIN only, closed with the list).
     */
    private static final class FaultList implements EventApplier.FaultSink, AutoCloseable {
        long[] addresses = new long[0];
        int count;
        private EventBuffer buffer;

        EventBuffer buffer() {
            if (buffer == null) {
                buffer = EventBuffer.allocate(64);
            }
            return buffer;
        }

        @Override
        public void close() {
            if (buffer != null) {
                buffer.close();
                buffer = null;
            }
        }

        @Override
        public void fault(long address, long flags, int threadId) {
            if (count == addresses.length) {
                addresses = java.util.Arrays.copyOf(addresses, Math.max(8, count * 2));
            }
            addresses[count++] = address;
        }
    }
}
