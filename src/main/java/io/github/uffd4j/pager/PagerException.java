package io.github.uffd4j.pager;

/**
 * The pager refused a request, broke the protocol, or went away: the message says which and
 * what to do. Immutable: thread safe.
 */
public class PagerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * A failure described by {@code message}.
     *
     * @param message what failed
     */
    public PagerException(String message) {
        super(message);
    }

    /**
     * A failure described by {@code message}, caused by {@code cause}.
     *
     * @param message what failed
     * @param cause the underlying failure
     */
    public PagerException(String message, Throwable cause) {
        super(message, cause);
    }
}
