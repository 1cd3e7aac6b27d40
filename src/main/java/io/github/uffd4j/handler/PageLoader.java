package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;
import io.github.uffd4j.UffdException;

import java.lang.foreign.MemorySegment;

/**
 * The claim-and-load step one loader thread (a handler thread or the background filler) runs on
 * a run of claimed pages: the page source fills the thread's zeroed {@link Staging} buffer while
 * the {@link WorkSlot} tells the watchdog what runs; only if the attempt is still current
 * (not abandoned) are the contents installed, so a late result is dropped in every mode. For
 * MINOR regions the contents are written into the page cache (through the kernel, at the alias
 * mapping) only then, so an abandoned attempt can never overwrite a page already served; the
 * write and the UFFDIO_CONTINUE that maps it run under the region's
 * {@linkplain Region#pageCacheLock page-cache lock}. Confined to its thread.
 */
final class PageLoader {

    /** How many times a MINOR fill may lose the race with a hole punch before it counts as failed. */
    private static final int ZAP_RETRIES = 16;

    private final WorkSlot slot;
    private final Staging staging;
    private final PageInstaller installer;
    private final FailureOutcomes failures;
    private final Counters counters;
    private final PageInstaller.EventPump events;
    /**
     * A readahead thread's loader: its background loads are the fault path's (counted so), and
     * speculative: a source that fails gives the pages back without a report (the fault that
     * wants a page loads it again, and reports then).
     */
    private final boolean ahead;

    PageLoader(WorkSlot slot, Staging staging, PageInstaller installer, FailureOutcomes failures, Counters counters,
               PageInstaller.EventPump events) {
        this(slot, staging, installer, failures, counters, events, false);
    }

    PageLoader(WorkSlot slot, Staging staging, PageInstaller installer, FailureOutcomes failures, Counters counters,
               PageInstaller.EventPump events, boolean ahead) {
        this.ahead = ahead;
        this.slot = slot;
        this.staging = staging;
        this.installer = installer;
        this.failures = failures;
        this.counters = counters;
        this.events = events;
    }

    /**
     * Loads pages [s, e) of {@code r}, claimed at zap epoch {@code epoch}. {@code faultPage} is the
     * page a thread waits for, or -1 for background work. Returns false if the watchdog abandoned
     * the attempt (the thread must then stop: a fresh one has taken its place). An unexpected
     * exception gives back the pages still claimed before it propagates.
     */
    boolean load(Region r, int s, int e, int faultPage, long epoch) {
        boolean urgent = faultPage >= 0;
        int zaps = 0;
        for (;;) {
            try {
                MemorySegment dst = r.source().writesEveryByte() ? staging.slice(e - s, r.pageSize()) : staging.zeroed(e - s, r.pageSize());
                long offset = (long) s << r.pageShift();
                Throwable error = null;
                slot.begin("the page source", r, faultPage, s, e);
                try {
                    counters.sourceCalls.increment();
                    r.source().fill(offset, dst);
                } catch (Throwable t) {
                    error = t;
                }
                if (!slot.end()) {
                    return false;
                }
                if (error == null) {
                    PageInstaller.Result result;
                    if (r.alias() == null) {
                        result = installer.install(r, s, e, dst.address(), staging, urgent, urgent || ahead, epoch, events);
                    } else {
                        // Into the page cache through the kernel, not a plain copy through the alias: a hole
                        // punched meanwhile (its REMOVE event can be read long before the punch happens) would
                        // make the copy refault a fresh page of zeros mid-page and leave it holding only the
                        // tail. The kernel writes each page whole into the page it found; a page punched out
                        // is a hole that UFFDIO_CONTINUE reports (ZAPPED, filled again).
                        r.pageCacheLock().lock();
                        try {
                            Memory.writeThroughKernel(r.alias().address() + offset, dst);
                            result = installer.install(r, s, e, 0, null, urgent, urgent || ahead, epoch, events);
                        } catch (UffdException x) {
                            failures.kernelError(r, s, e, urgent, x);
                            return true;
                        } finally {
                            r.pageCacheLock().unlock();
                        }
                    }
                    switch (result) {
                        case DONE, GONE, STEPPED_BACK -> {
                            return true;
                        }
                        case ZAPPED -> {
                            if (++zaps > ZAP_RETRIES) {
                                failures.kernelError(r, s, e, urgent, new IllegalStateException("holes were punched into "
                                        + "the shared memory while it was loaded " + ZAP_RETRIES + " times in a row"));
                                return true;
                            }
                            if (!urgent) {
                                installer.release(r, s, e);
                                return true;
                            }
                            // Fill again just the page a thread waits for: a whole block would likely meet the
                            // next punch too; the rest is given back and loaded when touched.
                            if (s < faultPage) {
                                installer.release(r, s, faultPage);
                            }
                            if (faultPage + 1 < e) {
                                installer.release(r, faultPage + 1, e);
                            }
                            s = faultPage;
                            e = faultPage + 1;
                            epoch = r.pages().zapEpoch();
                            continue;
                        }
                        case FAILED -> {
                            failures.kernelError(r, s, e, urgent, installer.lastError());
                            return true;
                        }
                        default -> throw new AssertionError(result);
                    }
                }
                if (!urgent) {
                    installer.release(r, s, e);
                    if (!ahead) {
                        failures.backgroundFailed(r, s, e, FaultFailure.Kind.SOURCE_FAILED, error);
                    }
                    return true;
                }
                // Retry with just the page a thread waits for; give the rest back.
                boolean block = installer.keepOnly(r, s, e, faultPage);
                s = faultPage;
                e = faultPage + 1;
                if (!failures.attemptFailed(r, faultPage, FaultFailure.Kind.SOURCE_FAILED, error, block)) {
                    return true;
                }
            } catch (RuntimeException | Error x) {
                // the thread dies (and is replaced): its claims must not stay LOADING, where a fault waits
                // for an install that will not come
                installer.release(r, s, e);
                throw x;
            }
        }
    }
}
