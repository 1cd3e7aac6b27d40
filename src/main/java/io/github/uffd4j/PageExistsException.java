package io.github.uffd4j;

/**
 * EEXIST from UFFDIO_COPY, ZEROPAGE, CONTINUE, POISON or MOVE: some page in the range was already
 * mapped (typically a concurrent fault on the same page was served first).
 *
 * <p>The kernel does <em>not</em> wake the threads waiting on the range when this happens: call
 * {@link Userfaultfd#wake} for it, or they sleep forever. {@link #bytesDone()} says how much of
 * the range was filled before the existing page was met.
 *
 * <p>Immutable: thread safe.
 */
public final class PageExistsException extends UffdException {

    private static final long serialVersionUID = 1L;

    PageExistsException(String call, int errno, long address, long length, long bytesDone, String hint, long kernelResult) {
        super(call, errno, address, length, bytesDone, hint, kernelResult);
    }
}
