package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;

/**
 * The claim-and-load step one loader thread (a handler thread or the background filler) runs on
 * a run of claimed pages: the page source fills the thread's zeroed {@link Staging} buffer while
 * the {@link WorkSlot} tells the watchdog what runs; only if the attempt is still current
 * (not abandoned) are the contents installed, so a late result is dropped in every mode. For
 * MINOR regions the contents are copied into the page cache through the alias mapping only then,
 * so an abandoned attempt can never overwrite a page already served. Confined to its thread.
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

    PageLoader(WorkSlot slot, Staging staging, PageInstaller installer, FailureOutcomes failures, Counters counters,
               PageInstaller.EventPump events) {
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
     * the attempt (the thread must then stop: a fresh one has taken its place).
     */
    boolean load(Region r, int s, int e, int faultPage, long epoch) {
        boolean urgent = faultPage >= 0;
        int zaps = 0;
        for (;;) {
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
                long src = dst.address();
                if (r.alias() != null) {
                    MemorySegment.copy(dst, 0, r.alias(), offset, dst.byteSize());
                    src = 0;
                }
                PageInstaller.Result result = installer.install(r, s, e, src, urgent, epoch, events);
                switch (result) {
                    case DONE, GONE, STEPPED_BACK -> {
                        return true;
                    }
                    case ZAPPED -> {
                        if (++zaps <= ZAP_RETRIES) {
                            epoch = r.pages().zapEpoch();
                            continue;
                        }
                        failures.kernelError(r, s, e, urgent, new IllegalStateException("UFFDIO_CONTINUE kept finding "
                                + "the page-cache pages gone after they were written (" + ZAP_RETRIES
                                + " tries): something punches holes into the shared memory while it is loaded"));
                        return true;
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
                failures.backgroundFailed(r, s, e, FaultFailure.Kind.SOURCE_FAILED, error);
                return true;
            }
            // Retry with just the page a thread waits for; give the rest back.
            boolean block = installer.keepOnly(r, s, e, faultPage);
            s = faultPage;
            e = faultPage + 1;
            if (!failures.attemptFailed(r, faultPage, FaultFailure.Kind.SOURCE_FAILED, error, block)) {
                return true;
            }
        }
    }
}
