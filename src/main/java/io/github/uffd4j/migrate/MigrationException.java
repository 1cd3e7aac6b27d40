package io.github.uffd4j.migrate;

import java.io.IOException;

/**
 * A migration that failed: the peer went away, sent something malformed, or did not answer in
 * time. The message says which side of the switchover it happened on, since that decides where
 * the memory lives now (see {@link MigrationSource} and {@link MigrationTarget}).
 */
public class MigrationException extends IOException {

    private static final long serialVersionUID = 1L;

    public MigrationException(String message) {
        super(message);
    }

    public MigrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
