package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;

import java.util.OptionalLong;

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
    /** The signed count the kernel wrote into the ioctl's struct; meaningful when {@link #kernelResultWritten}. */
    private final long kernelResult;
    /** Whether the kernel wrote {@link #kernelResult}. */
    private final boolean kernelResultWritten;

    UffdException(String call, int errno, long address, long length, long bytesDone, String hint) {
        this(call, errno, address, length, bytesDone, hint, NO_RESULT);
    }

    /**
     * A failed ioctl whose struct has a signed count field: {@code kernelResult} is what the kernel
     * wrote there, {@link #NO_RESULT} when it did not write it.
     */
    UffdException(String call, int errno, long address, long length, long bytesDone, String hint, long kernelResult) {
        super(message(call, errno, address, length, bytesDone, hint));
        this.call = call;
        this.errno = errno;
        this.address = address;
        this.length = length;
        this.bytesDone = bytesDone;
        this.kernelResult = kernelResult;
        this.kernelResultWritten = kernelResult != NO_RESULT;
    }

    /**
     * Stands for "the kernel wrote no count": what uffd4j puts in a struct's count field before
     * the ioctl. No count the kernel writes can equal it (counts are at most the range's length,
     * negated errnos are above -4096).
     */
    static final long NO_RESULT = Long.MIN_VALUE;

    /** A failure that is not an errno (errno 0): {@code message} is the whole message. */
    UffdException(String call, int errno, String message) {
        super(message);
        this.call = call;
        this.errno = errno;
        this.address = 0;
        this.length = 0;
        this.bytesDone = 0;
        this.kernelResult = NO_RESULT;
        this.kernelResultWritten = false;
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

    /**
     * The signed count the kernel wrote back into the ioctl's struct, as it wrote it: the
     * {@code copy} field of UFFDIO_COPY, {@code zeropage} of UFFDIO_ZEROPAGE, {@code mapped} of
     * UFFDIO_CONTINUE, {@code updated} of UFFDIO_POISON, {@code move} of UFFDIO_MOVE. A positive
     * value is the bytes done before the kernel stopped (the ioctl then fails with EAGAIN, and
     * {@link #bytesDone()} is the same number); a negative one is a negated errno, the reason the
     * very first page failed ({@code -EEXIST} when it was already mapped).
     *
     * <p>Empty for every other call, and when the kernel failed before writing the field (it checks
     * the arguments, whether the address space is changing and whether the process is still there
     * first): then nothing was done.
     *
     * @return the count or negated errno the kernel reported, or empty when it reported none
     */
    public OptionalLong kernelResult() {
        return kernelResultWritten ? OptionalLong.of(kernelResult) : OptionalLong.empty();
    }
}
