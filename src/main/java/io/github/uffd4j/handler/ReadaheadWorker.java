package io.github.uffd4j.handler;

import io.github.uffd4j.Userfaultfd;

/**
 * One asynchronous readahead thread: takes runs of pages from the {@link ReadaheadQueue} and
 * loads those still missing, claiming them like the fault path (no page is loaded twice; a reader
 * that reaches a page being loaded here waits for it, woken by the install). Several workers load
 * the runs ahead of a sequential reader in parallel while it consumes what it has, which is where
 * a decompressing or remote source spends its time. Like the background filler it reads no
 * events: on EAGAIN it gives its pages back and the handler threads load them when touched.
 */
final class ReadaheadWorker extends ServiceThread {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());

    private final ServiceContext ctx;
    private final ThreadRoster roster;
    private final ReadaheadQueue queue;

    ReadaheadWorker(ServiceContext ctx, ThreadRoster roster, ReadaheadQueue queue) {
        this.ctx = ctx;
        this.roster = roster;
        this.queue = queue;
    }

    @Override
    public void run() {
        int tid = Userfaultfd.currentThreadId();
        roster.addOwnThread(tid);
        try (Staging staging = new Staging(roster.stagingBytes())) {
            PageLoader loader = new PageLoader(slot, staging, ctx.installer(), ctx.failures(), ctx.counters(), null, true);
            int[] range = new int[2];
            while (!slot.isAbandoned()) {
                Region r = queue.take(range, 1000);
                if (r == null) {
                    if (queue.isStopped()) {
                        return;
                    }
                    continue;
                }
                if (r.isServed() && !loadMissing(r, range[0], range[1], loader)) {
                    return; // abandoned by the watchdog: a replacement runs
                }
            }
        } catch (InterruptedException closing) {
            // the service closes
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "uffd4j readahead thread failed; starting a replacement", t);
            roster.replace(this);
        } finally {
            roster.removeOwnThread(tid);
            roster.retired(this);
        }
    }

    /** Loads the missing pages of [s, e) of {@code r} in runs; false if the watchdog abandoned an attempt. */
    private boolean loadMissing(Region r, int s, int e, PageLoader loader) {
        PageTable pages = r.pages();
        int p = s;
        while (p < e && !queue.isStopped()) {
            if (pages.state(p) != PageTable.MISSING || pages.loadAlone(p)) {
                p++;
                continue;
            }
            long epoch = pages.zapEpoch();
            if (!pages.claim(p)) {
                p++;
                continue;
            }
            int q = p + 1;
            while (q < e && !pages.loadAlone(q) && pages.claim(q)) {
                q++;
            }
            if (!loader.load(r, p, q, -1, epoch)) {
                return false;
            }
            p = q;
        }
        return true;
    }
}
