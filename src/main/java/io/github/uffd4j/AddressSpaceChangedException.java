package io.github.uffd4j;

/**
 * EAGAIN from a range ioctl: the address space is changing under the call (a REMOVE, UNMAP or
 * REMAP event is pending, or a mapping is being modified). Read and apply the pending events,
 * then retry the part of the range after {@link #bytesDone()}.
 *
 * <p>Immutable: thread safe.
 */
public final class AddressSpaceChangedException extends UffdException {

    private static final long serialVersionUID = 1L;

    AddressSpaceChangedException(String call, int errno, long address, long length, long bytesDone, String hint, long kernelResult) {
        super(call, errno, address, length, bytesDone, hint, kernelResult);
    }
}
