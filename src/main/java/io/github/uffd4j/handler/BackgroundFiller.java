package io.github.uffd4j.handler;

import io.github.uffd4j.Userfaultfd;

import java.util.concurrent.locks.LockSupport;

/**
 * The background filler (the postcopy "push"): one low-priority thread that loads, region by
 * region, the pages nobody asked for yet, in chunks, claiming them like the fault path so that no
 * page is loaded twice. It steps aside while any live handler thread serves faults (urgent faults
 * first). It cannot read events, so on EAGAIN it gives its pages back and lets the handler
 * threads read them. It also steps aside while the readahead threads load ahead of a reader.
 */
final class BackgroundFiller extends ServiceThread {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());
    private static final int CHUNK_BYTES = 256 * 1024;

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private volatile boolean stop;

    BackgroundFiller(ServiceContext ctx, ThreadRoster roster) {
        this.ctx = ctx;
        this.roster = roster;
    }

    /** Asks the filler to stop after its current chunk. */
    void stop() {
        stop = true;
    }

    @Override
    public boolean isFiller() {
        return true;
    }

    @Override
    public void run() {
        int tid = Userfaultfd.currentThreadId();
        roster.addOwnThread(tid);
        try (Staging staging = new Staging(roster.stagingBytes())) {
            PageLoader loader = new PageLoader(slot, staging, ctx.installer(), ctx.failures(), ctx.counters(), null);
            boolean more = true;
            while (more && !stop && !slot.isAbandoned()) {
                more = false;
                for (Region r : ctx.regions().all()) {
                    if (r.backgroundFill() && fillSome(r, loader)) {
                        more = true;
                    }
                }
            }
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "uffd4j background filler failed", t);
        } finally {
            roster.removeOwnThread(tid);
            roster.retired(this);
        }
    }

    /** Loads one chunk of {@code r}; false when the region has nothing left to load. */
    private boolean fillSome(Region r, PageLoader loader) {
        while ((roster.faultsInService() || roster.readaheadInProgress()) && !stop) {
            LockSupport.parkNanos(50_000);
        }
        PageTable pages = r.pages();
        int p = pages.fillCursor();
        while (p < pages.pageCount() && pages.state(p) != PageTable.MISSING) {
            p++;
        }
        if (p >= pages.pageCount() || stop) {
            pages.fillCursor(pages.pageCount());
            return false;
        }
        long epoch = pages.zapEpoch();
        if (!pages.claim(p)) {
            return true;
        }
        int unit = r.moveUnitPages();
        // up to where a block that moves into place whole starts, then such blocks whole
        int limit = unit > 0 ? Math.min(pages.pageCount(), r.nextMoveUnit(p + 1, unit))
                : Math.min(pages.pageCount(), p + Math.max(1, CHUNK_BYTES >>> r.pageShift()));
        int e = p + 1;
        while (e < limit && pages.claim(e)) {
            e++;
        }
        if (!loader.load(r, p, e, -1, epoch)) {
            stop = true;
            return false;
        }
        pages.fillCursor(e);
        Thread.yield();
        return true;
    }
}
