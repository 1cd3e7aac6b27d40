package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;
import io.github.uffd4j.PagemapScanner;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The service's threads: starts the handler threads, the readahead threads and the background filler, replaces one the
 * watchdog abandoned or that failed, knows their kernel thread ids (to catch self-faults) and
 * their {@link WorkSlot}s (for the watchdog, and so that the filler can step aside), and stops
 * them at close. Also answers the one kernel question the fault path asks of all threads:
 * whether a page is really mapped (PAGEMAP_SCAN). Thread safe.
 */
final class ThreadRoster {

    private final ServiceContext ctx;
    private final PagemapScanner pagemap;
    private final AtomicInteger threadNumber = new AtomicInteger();
    /** Changed under this object's lock; readers use the {@link #slotArray} snapshot. */
    private final List<WorkSlot> slots = new java.util.ArrayList<>();
    private volatile WorkSlot[] slotArray = new WorkSlot[0];
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private volatile int[] ownThreadIds = new int[0];
    private volatile BackgroundFiller filler;
    private volatile boolean closing;
    private volatile boolean pagemapWorks;

    ThreadRoster(ServiceContext ctx, PagemapScanner pagemap) {
        this.ctx = ctx;
        this.pagemap = pagemap;
        this.pagemapWorks = pagemap != null;
    }

    // ---- starting and replacing -------------------------------------------------------------

    /** Synchronized with {@link #stopAll}, which must never see a thread added but not yet started (join throws). */
    synchronized void startHandler() {
        HandlerThread h = new HandlerThread(ctx, this);
        addSlot(h.slot());
        Thread t = Thread.ofPlatform().daemon()
                .name("uffd4j-handler-" + ctx.uffd().fd() + "-" + threadNumber.incrementAndGet()).unstarted(h);
        threads.add(t);
        h.start(t);
    }

    /** Starts one readahead thread (the service has a readahead queue). */
    synchronized void startReadahead() {
        if (closing) {
            return;
        }
        ReadaheadWorker w = new ReadaheadWorker(ctx, this, ctx.readahead());
        addSlot(w.slot());
        Thread t = Thread.ofPlatform().daemon()
                .name("uffd4j-readahead-" + ctx.uffd().fd() + "-" + threadNumber.incrementAndGet()).unstarted(w);
        threads.add(t);
        w.start(t);
    }

    synchronized void startFillerIfNeeded() {
        BackgroundFiller f = filler;
        if ((f == null || !f.thread().isAlive()) && !closing) {
            f = new BackgroundFiller(ctx, this);
            addSlot(f.slot());
            Thread t = Thread.ofPlatform().daemon().name("uffd4j-filler-" + ctx.uffd().fd()).unstarted(f);
            t.setPriority(Thread.MIN_PRIORITY);
            threads.add(t);
            filler = f;
            f.start(t);
        }
    }

    /** A thread was abandoned or failed: start another in its place, unless the service is closing. */
    void replace(WorkSlot.Owner gone) {
        if (closing) {
            return;
        }
        if (gone.isFiller()) {
            synchronized (this) {
                if (filler == gone) {
                    filler = null;
                }
            }
            startFillerIfNeeded();
        } else if (gone instanceof ReadaheadWorker) {
            startReadahead();
        } else {
            startHandler();
        }
    }

    /** Called by a thread as it ends. */
    void retired(WorkSlot.Owner owner) {
        synchronized (this) {
            slots.removeIf(s -> s.owner == owner);
            slotArray = slots.toArray(new WorkSlot[0]);
        }
        threads.remove(owner.thread());
    }

    private synchronized void addSlot(WorkSlot s) {
        slots.add(s);
        slotArray = slots.toArray(new WorkSlot[0]);
    }

    WorkSlot[] slots() {
        return slotArray;
    }

    // ---- own threads -------------------------------------------------------------------------

    synchronized void addOwnThread(int tid) {
        int[] t = Arrays.copyOf(ownThreadIds, ownThreadIds.length + 1);
        t[t.length - 1] = tid;
        ownThreadIds = t;
    }

    synchronized void removeOwnThread(int tid) {
        int[] t = ownThreadIds;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == tid) {
                int[] n = new int[t.length - 1];
                System.arraycopy(t, 0, n, 0, i);
                System.arraycopy(t, i + 1, n, i, t.length - i - 1);
                ownThreadIds = n;
                return;
            }
        }
    }

    /** Whether kernel thread {@code tid} is one of the service's (allocation-free). */
    boolean isOwnThread(int tid) {
        if (tid == 0) {
            return false;
        }
        for (int t : ownThreadIds) {
            if (t == tid) {
                return true;
            }
        }
        return false;
    }

    // ---- what the threads are doing -----------------------------------------------------------

    /** Whether a live handler thread is serving faults now. Allocates nothing. */
    boolean faultsInService() {
        for (WorkSlot s : slotArray) {
            if (s.servingFaults()) {
                return true;
            }
        }
        return false;
    }

    /** Whether a readahead thread is loading now. Allocates nothing. */
    boolean readaheadInProgress() {
        for (WorkSlot s : slotArray) {
            if (s.owner instanceof ReadaheadWorker && s.isBusy()) {
                return true;
            }
        }
        return false;
    }

    /** Whether any thread runs user code or serves faults now. */
    boolean busy() {
        for (WorkSlot s : slotArray) {
            if (s.isBusy() || s.servingFaults()) {
                return true;
            }
        }
        return false;
    }

    /** Bytes of staging buffer a loader needs: the readahead block, or the largest page. */
    long stagingBytes() {
        long largestPage = Memory.pageSize();
        for (Region r : ctx.regions().all()) {
            largestPage = Math.max(largestPage, r.pageSize());
        }
        return Math.max(ctx.settings().maxReadahead(), largestPage);
    }

    /**
     * Whether page {@code p} is mapped according to the kernel: 1 yes, 0 no, -1 unknown (no
     * PAGEMAP_SCAN before Linux 6.7; the caller then wakes once and reloads on a second fault).
     */
    int kernelPresent(Region r, int p) {
        if (!pagemapWorks) {
            return -1;
        }
        try {
            return pagemap.isPresent(r.pageAddress(p), r.pageSize()) ? 1 : 0;
        } catch (RuntimeException unsupported) {
            pagemapWorks = false;
            return -1;
        }
    }

    // ---- stopping ------------------------------------------------------------------------------

    void closing() {
        closing = true;
        if (ctx.readahead() != null) {
            ctx.readahead().stop();
        }
        BackgroundFiller f = filler;
        if (f != null) {
            f.stop();
        }
    }

    /**
     * Interrupts the threads still running user code (abandoned at close: a source blocked in an
     * interruptible wait returns), then waits for every thread to end, for at most {@code timeout}.
     */
    void stopAll(Duration timeout) {
        for (WorkSlot s : slotArray) {
            if (s.isAbandoned() && s.owner.thread() != null) {
                s.owner.thread().interrupt();
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Thread> started;
        synchronized (this) {
            started = new ArrayList<>(threads);
        }
        for (Thread t : started) {
            if (t == Thread.currentThread()) {
                continue;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                t.join(Duration.ofNanos(left));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
    }

    void closePagemap() {
        if (pagemap != null) {
            pagemap.close();
        }
    }
}
