package io.github.uffd4j.source;

import java.io.IOException;

/**
 * Data that cannot be trusted, or cannot be read: a bad header or index, a truncated file, a
 * chunk whose checksum does not match, a store that refuses. The message names the source and,
 * where there is one, the chunk and its offset.
 */
public class DatasetException extends IOException {

    private static final long serialVersionUID = 1L;

    /**
     * A failure described by {@code message}.
     *
     * @param message what failed, naming the source
     */
    public DatasetException(String message) {
        super(message);
    }

    /**
     * A failure described by {@code message}, caused by {@code cause}.
     *
     * @param message what failed, naming the source
     * @param cause the underlying failure
     */
    public DatasetException(String message, Throwable cause) {
        super(message, cause);
    }
}
