package io.github.uffd4j.migrate;

import java.io.IOException;

/**
 * A migration that failed: the peer went away, sent something malformed, or did not answer in
 * time. The message says which side of the switchover it happened on, since that decides where
 * the memory lives now (see {@link MigrationSource} and {@link MigrationTarget}).
 */
public class MigrationException extends IOException {

    private static final long serialVersionUID = 1L;

    /**
     * A failure described by {@code message}.
     *
     * @param message what failed
     */
    public MigrationException(String message) {
        super(message);
    }

    /**
     * A failure described by {@code message}, caused by {@code cause}.
     *
     * @param message what failed
     * @param cause the underlying failure
     */
    public MigrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
