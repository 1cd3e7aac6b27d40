package io.github.uffd4j.handler;

import io.github.uffd4j.RangeNotRegisteredException;
import io.github.uffd4j.UffdException;

/**
 * Turns a failed attempt at a page into the {@link FailurePolicy}'s answer: another try, an error
 * in the faulting thread (the page is poisoned), or a zero page. Every failure is recorded in the
 * page table before the ioctl that wakes the faulting thread, so that the
 * {@link PageLoadException} it gets carries the cause. Thread safe.
 */
final class FailureOutcomes {

    private final FailurePolicy policy;
    private final boolean poisonSupported;
    private final PageInstaller installer;
    private final FailureReporter reporter;
    private final Counters counters;

    FailureOutcomes(FailurePolicy policy, boolean poisonSupported, PageInstaller installer, FailureReporter reporter,
                    Counters counters) {
        this.policy = policy;
        this.poisonSupported = poisonSupported;
        this.installer = installer;
        this.reporter = reporter;
        this.counters = counters;
    }

    boolean poisonSupported() {
        return poisonSupported;
    }

    /**
     * An attempt at page {@code p}, which a thread waits for, failed. Returns true if the caller
     * should try again now (with that page alone); otherwise the fallback was applied. When the
     * failed attempt loaded a block of pages ({@code block}), the failure may have been another
     * page's: the first one always gets a retry of the page alone, whatever the policy's retries.
     */
    boolean attemptFailed(Region r, int p, FaultFailure.Kind kind, Throwable cause, boolean block) {
        counters.failures.increment();
        int attempts = r.pages().attemptFailed(p);
        if (attempts <= policy.retries() || (block && attempts == 1)) {
            report(r, p, 1, kind, FaultFailure.Outcome.RETRIED, cause);
            return true;
        }
        r.pages().clearAttempts(p);
        fallback(r, p, kind, cause, false);
        return false;
    }

    /**
     * An attempt at page {@code p} ran past the timeout. While retries remain, the page is given
     * back and its thread woken: the fault comes again and a fresh thread tries. Then the fallback.
     */
    void timedOut(Region r, int p, Throwable cause, boolean block) {
        if (attemptFailed(r, p, FaultFailure.Kind.TIMED_OUT, cause, block)) {
            installer.release(r, p, p + 1);
        }
    }

    /**
     * Resolves page {@code p} (claimed or not) by the policy's fallback, or by an error when
     * {@code forceError}.
     */
    void fallback(Region r, int p, FaultFailure.Kind kind, Throwable cause, boolean forceError) {
        boolean error = poisonSupported && (forceError || policy.fallback() == FailurePolicy.Fallback.ERROR);
        FaultFailure f = failure(r, p, 1, kind, error ? FaultFailure.Outcome.ERROR : FaultFailure.Outcome.ZERO_PAGE, cause);
        if (error) {
            r.pages().recordFailure(p, f);
        }
        reporter.publish(f);
        try {
            if (error) {
                poison(r, p);
            } else {
                installer.zero(r, p);
                r.pages().force(p, PageTable.PRESENT);
                installer.wakeLeftToLoad(r, p, p + 1);
            }
        } catch (UffdException | RangeNotRegisteredException x) {
            // Neither poisoned nor zero-filled (EAGAIN: an event is pending): the page is missing again, so
            // the woken thread's next fault is served afresh, and close() (Retirement) poisons it. Left
            // FAILED, the fault would only be woken again, and read zeros once the range is unregistered.
            r.pages().forgetFailure(p);
            r.pages().force(p, PageTable.MISSING);
            installer.wake(r.pageAddress(p), r.pageSize());
            reporter.publish(failure(r, p, 1, FaultFailure.Kind.KERNEL_ERROR, FaultFailure.Outcome.NONE, x));
        }
    }

    /** Poisons page {@code p}: state FAILED; a page that turned out mapped is recorded present and woken. */
    void poison(Region r, int p) {
        r.pages().force(p, PageTable.FAILED);
        if (!installer.poison(r, p)) {
            r.pages().force(p, PageTable.PRESENT);
            r.pages().forgetFailure(p);
        }
    }

    /** A run of background work failed: the pages stay missing, nobody waited. */
    void backgroundFailed(Region r, int s, int e, FaultFailure.Kind kind, Throwable cause) {
        report(r, s, e - s, kind, FaultFailure.Outcome.NONE, cause);
    }

    /** An ioctl failed for good on pages [s, e): background pages are given back, waited-for pages get an error. */
    void kernelError(Region r, int s, int e, boolean urgent, Throwable cause) {
        counters.failures.increment();
        if (!urgent) {
            installer.release(r, s, e);
            report(r, s, e - s, FaultFailure.Kind.KERNEL_ERROR, FaultFailure.Outcome.NONE, cause);
            return;
        }
        for (int p = s; p < e; p++) {
            fallback(r, p, FaultFailure.Kind.KERNEL_ERROR, cause, true);
        }
    }

    void report(Region r, int page, int pages, FaultFailure.Kind kind, FaultFailure.Outcome outcome, Throwable cause) {
        reporter.publish(failure(r, page, pages, kind, outcome, cause));
    }

    static FaultFailure failure(Region r, int page, int pages, FaultFailure.Kind kind, FaultFailure.Outcome outcome,
                                Throwable cause) {
        return new FaultFailure(r, (long) page << r.pageShift(), (long) pages << r.pageShift(), kind, outcome, cause);
    }
}
