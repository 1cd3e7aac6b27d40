package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;

/**
 * A system call made by uffd4j failed. The message names the call, the errno symbol and text, the
 * address range involved and what the caller can do about it; the same facts are available as
 * accessors.
 *
 * <p>Two failures that callers are expected to handle have their own types:
 * {@link PageExistsException} (EEXIST) and {@link AddressSpaceChangedException} (EAGAIN).
 *
 * <p>Immutable once thrown: thread safe.
 */
public class UffdException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The failed call. */
    private final String call;
    /** The errno, 0 when none. */
    private final int errno;
    /** The range's start, 0 when none. */
    private final long address;
    /** The range's length, 0 when none. */
    private final long length;
    /** The bytes done before the failure. */
    private final long bytesDone;

    UffdException(String call, int errno, long address, long length, long bytesDone, String hint) {
        super(message(call, errno, address, length, bytesDone, hint));
        this.call = call;
        this.errno = errno;
        this.address = address;
        this.length = length;
        this.bytesDone = bytesDone;
    }

    /** A failure that is not an errno (errno 0): {@code message} is the whole message. */
    UffdException(String call, int errno, String message) {
        super(message);
        this.call = call;
        this.errno = errno;
        this.address = 0;
        this.length = 0;
        this.bytesDone = 0;
    }

    private static String message(String call, int errno, long address, long length, long bytesDone, String hint) {
        StringBuilder m = new StringBuilder(call).append(" failed: ")
                .append(Errno.name(errno)).append(" (").append(Errno.describe(errno)).append(')');
        if (length > 0) {
            m.append(" on [0x").append(Long.toHexString(address))
                    .append(", 0x").append(Long.toHexString(address + length)).append(')');
            if (bytesDone > 0) {
                m.append(" after ").append(bytesDone).append(" of ").append(length).append(" bytes");
            }
        }
        if (hint != null && !hint.isEmpty()) {
            m.append(": ").append(hint);
        }
        return m.toString();
    }

    /**
     * The call that failed: "UFFDIO_COPY", "userfaultfd", "mmap", ...
     *
     * @return the call's name
     */
    public String call() {
        return call;
    }

    /**
     * The errno value the kernel returned (0 for a failure that is not a system call's, such as
     * {@link UnknownEventException}).
     *
     * @return the errno, or 0
     */
    public int errno() {
        return errno;
    }

    /**
     * The errno symbol: "EEXIST", "EAGAIN", ...
     *
     * @return the errno's symbolic name
     */
    public String errnoName() {
        return Errno.name(errno);
    }

    /**
     * Start of the address range the call worked on, or 0 when none.
     *
     * @return the range's first address, or 0
     */
    public long address() {
        return address;
    }

    /**
     * Length of the address range the call worked on, or 0 when none.
     *
     * @return the range's length in bytes, or 0
     */
    public long length() {
        return length;
    }

    /**
     * Bytes the kernel completed before failing (COPY, ZEROPAGE, CONTINUE, POISON and MOVE can
     * stop part way): the range {@code [address, address + bytesDone)} was done, the rest was not.
     *
     * @return the bytes done, from the start of the range
     */
    public long bytesDone() {
        return bytesDone;
    }
}
