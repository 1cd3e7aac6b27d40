package io.github.uffd4j.handler;

import io.github.uffd4j.internal.Jfr;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Where every {@link FaultFailure} goes: the JFR event (when recording), the failure listener,
 * and the log. The log is aggregated so that a large failure (a source that fails for a million
 * pages) does not flood it: at most one WARNING line a second, followed by a count of the
 * failures left out, which {@link #flush()} (called by the watchdog) logs when no new failure comes.
 * Thread safe.
 */
final class FailureReporter {

    private static final System.Logger LOG = System.getLogger(FaultService.class.getName());
    private static final long LOG_INTERVAL_NANOS = 1_000_000_000L;

    private final Consumer<FaultFailure> listener;
    private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - LOG_INTERVAL_NANOS);
    private final AtomicLong suppressed = new AtomicLong();
    private final AtomicLong suppressedBytes = new AtomicLong();

    FailureReporter(Consumer<FaultFailure> listener) {
        this.listener = listener;
    }

    void publish(FaultFailure f) {
        recordJfr(f);
        if (f.outcome() == FaultFailure.Outcome.RETRIED) {
            LOG.log(System.Logger.Level.DEBUG, "uffd4j: {0}", f);
        } else {
            long now = System.nanoTime();
            long last = lastLogged.get();
            if (now - last >= LOG_INTERVAL_NANOS && lastLogged.compareAndSet(last, now)) {
                long more = suppressed.getAndSet(0);
                long moreBytes = suppressedBytes.getAndSet(0);
                LOG.log(System.Logger.Level.WARNING, "uffd4j: {0}{1}", f, more == 0 ? ""
                        : " (and " + more + " more failures, " + moreBytes + " bytes, in the second before)");
            } else {
                suppressed.incrementAndGet();
                suppressedBytes.addAndGet(f.length());
            }
        }
        if (listener != null) {
            try {
                listener.accept(f);
            } catch (RuntimeException x) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j failure listener threw", x);
            }
        }
    }

    /** Logs the count of failures left out of the log, if a second has passed since the last line. */
    void flush() {
        long last = lastLogged.get();
        long now = System.nanoTime();
        if (suppressed.get() > 0 && now - last >= LOG_INTERVAL_NANOS && lastLogged.compareAndSet(last, now)) {
            long more = suppressed.getAndSet(0);
            long moreBytes = suppressedBytes.getAndSet(0);
            if (more > 0) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j: " + more + " more page failures (" + moreBytes
                        + " bytes); the failure listener and JFR saw each one");
            }
        }
    }

    private static void recordJfr(FaultFailure f) {
        if (!Jfr.started()) {
            return;
        }
        FaultFailureEvent e = new FaultFailureEvent();
        if (e.isEnabled()) {
            e.region = f.region().name();
            e.offset = f.offset();
            e.length = f.length();
            e.kind = f.kind().name();
            e.outcome = f.outcome().name();
            e.cause = String.valueOf(f.cause());
            e.commit();
        }
    }
}
