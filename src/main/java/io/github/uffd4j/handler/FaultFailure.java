package io.github.uffd4j.handler;

/**
 * A page the runtime could not serve as asked, reported to the failure listener, kept by the
 * region for {@link PageLoadException}, and recorded as a JFR event.
 *
 * @param region  the region
 * @param offset  offset of the first page concerned in the region
 * @param length  bytes concerned
 * @param kind    what went wrong
 * @param outcome what the faulting thread got
 * @param cause   the exception thrown by the page source or handler, or describing the failure
 */
public record FaultFailure(Region region, long offset, long length, Kind kind, Outcome outcome, Throwable cause) {

    /** What went wrong. */
    public enum Kind {
        /** The page source or fault handler threw. */
        SOURCE_FAILED,
        /** The page source or fault handler ran past the policy's timeout. */
        TIMED_OUT,
        /** A fault handler returned without resolving the fault. */
        NOT_RESOLVED,
        /** A handler thread faulted on a region of its own service (the source touched served memory). */
        SELF_FAULT,
        /** An ioctl failed in a way retrying cannot fix. */
        KERNEL_ERROR,
        /** The service closed before the page was served. */
        CLOSED
    }

    /** What the faulting thread got. */
    public enum Outcome {
        /** It will fault again and another attempt is made. */
        RETRIED,
        /** An error: the page was poisoned. */
        ERROR,
        /** Zeros. */
        ZERO_PAGE,
        /** Nothing waited (background work); the page stays missing. */
        NONE
    }

    @Override
    public String toString() {
        return kind + " at offset " + offset + " (+" + length + ") of " + region + " -> " + outcome
                + (cause != null ? ": " + cause : "");
    }
}
