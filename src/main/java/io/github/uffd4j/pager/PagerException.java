package io.github.uffd4j.pager;

/**
 * The pager refused a request, broke the protocol, or went away: the message says which and
 * what to do. Immutable: thread safe.
 */
public class PagerException extends RuntimeException {

    public PagerException(String message) {
        super(message);
    }

    public PagerException(String message, Throwable cause) {
        super(message, cause);
    }
}
