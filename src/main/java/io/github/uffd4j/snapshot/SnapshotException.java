package io.github.uffd4j.snapshot;

import java.io.IOException;

/**
 * A snapshot that cannot be trusted or made: a bad header or index, a truncated file, a page
 * whose checksum does not match, a chain with a missing link. The message names the file and,
 * where there is one, the page.
 */
public class SnapshotException extends IOException {

    private static final long serialVersionUID = 1L;

    /**
     * A snapshot error.
     *
     * @param message what is wrong, naming the file and, where there is one, the page
     */
    public SnapshotException(String message) {
        super(message);
    }

    /**
     * A snapshot error with its cause.
     *
     * @param message what is wrong, naming the file and, where there is one, the page
     * @param cause   the error that stopped the snapshot
     */
    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
