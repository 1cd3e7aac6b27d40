package io.github.uffd4j.handler;

import java.time.Duration;
import java.util.Objects;

/**
 * What the runtime does when a {@link PageSource} or {@link FaultHandler} throws, or runs past
 * {@link #timeout()}: it tries again up to {@link #retries()} more times, then applies the
 * {@link Fallback}. No faulting thread is left asleep either way.
 *
 * @param retries  further attempts after the first failed one (0 or more)
 * @param timeout  how long one attempt may run before it counts as failed; the attempt's thread is
 *                 abandoned (its late result discarded) and a fresh handler thread takes its place
 * @param fallback what the faulting thread gets once the attempts are used up
 */
public record FailurePolicy(int retries, Duration timeout, Fallback fallback) {

    /** The outcome for a page whose contents could not be produced. */
    public enum Fallback {
        /**
         * The page is poisoned (UFFDIO_POISON, Linux 6.6+): the faulting thread gets an error. A
         * {@link LazySegment} accessor or {@link Region#load} throws {@link PageLoadException}
         * with the cause; a plain Java access raises
         * {@code InternalError("a fault occurred in an unsafe memory access operation")}; a native
         * access gets SIGBUS or EFAULT. The page stays failed until {@link Region#reset}.
         */
        ERROR,
        /** The page reads as zeros (counted and reported as a failure, but the reader goes on). */
        ZERO_PAGE
    }

    /** Two retries, 30 seconds per attempt, then {@link Fallback#ERROR}. */
    public static final FailurePolicy DEFAULT = new FailurePolicy(2, Duration.ofSeconds(30), Fallback.ERROR);

    /** Checks the bounds: 0 to 100 retries, a timeout above zero and at most a day. */
    public FailurePolicy {
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(fallback, "fallback");
        if (retries < 0 || retries > 100) {
            throw new IllegalArgumentException("retries must be in [0, 100], not " + retries);
        }
        if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(Duration.ofDays(1)) > 0) {
            throw new IllegalArgumentException("timeout must be positive and at most a day, not " + timeout);
        }
    }

    /**
     * This policy with another number of retries.
     *
     * @param retries the further attempts, 0 to 100
     * @return the new policy
     */
    public FailurePolicy withRetries(int retries) {
        return new FailurePolicy(retries, timeout, fallback);
    }

    /**
     * This policy with another timeout per attempt.
     *
     * @param timeout the time per attempt, above zero and at most a day
     * @return the new policy
     */
    public FailurePolicy withTimeout(Duration timeout) {
        return new FailurePolicy(retries, timeout, fallback);
    }

    /**
     * This policy with another fallback.
     *
     * @param fallback the outcome once the attempts are used up
     * @return the new policy
     */
    public FailurePolicy withFallback(Fallback fallback) {
        return new FailurePolicy(retries, timeout, fallback);
    }
}
