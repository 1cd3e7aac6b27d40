package io.github.uffd4j.handler;

/**
 * A page of a region could not be loaded: the page source failed and the
 * {@link FailurePolicy.Fallback#ERROR ERROR} fallback poisoned it, the service closed before it
 * was served, or the region is gone. Thrown by {@link Region#load} and the {@link LazySegment}
 * accessors in the thread that asked for the page; the cause is the page source's exception
 * when there is one.
 */
public class PageLoadException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The failed page's offset in the region. */
    private final long offset;

    PageLoadException(String message, long offset, Throwable cause) {
        super(message, cause);
        this.offset = offset;
    }

    /**
     * Offset in the region of the page that could not be loaded.
     *
     * @return the page's offset, page aligned
     */
    public long offset() {
        return offset;
    }
}
