package io.github.uffd4j;

/**
 * An operation was attempted on a {@link Userfaultfd} that is closed, or {@link Userfaultfd#close()}
 * was called while the operation waited (a {@link Userfaultfd#read read} blocked for events). It
 * means exactly that and nothing else: a handler loop that catches it can stop quietly.
 *
 * <p>Only {@link Userfaultfd} (and a FORK child's {@link Userfaultfd}) throws it, and
 * {@link UnixSocket} and its {@link UnixSocket.Listener} in the same sense.
 *
 * <p>Immutable: thread safe.
 */
public class UffdClosedException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    UffdClosedException(String message) {
        super(message);
    }
}
