package io.github.uffd4j.handler;

/**
 * A handler that decides per fault, for users who need more than a {@link PageSource}. The
 * runtime calls {@link #onFault} on a handler thread; the handler must resolve the fault with
 * one of {@link Fault}'s actions (copy, zero, continue, unprotect, poison, wake) before it
 * returns. Returning without resolving, or throwing, is a failed attempt handled by the
 * {@link FailurePolicy}, so no faulting thread is ever left asleep. Implementations must be
 * thread safe: each handler thread calls it for its own faults.
 */
@FunctionalInterface
public interface FaultHandler {

    /**
     * Resolves {@code fault}. The {@link Fault} object is reused for the next fault: do not keep it.
     *
     * @param fault the fault, valid during this call only
     * @throws Exception any failure: a failed attempt, handled by the {@link FailurePolicy}
     */
    void onFault(Fault fault) throws Exception;
}
