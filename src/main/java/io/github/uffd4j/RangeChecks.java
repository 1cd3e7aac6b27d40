package io.github.uffd4j;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Objects;

/**
 * The argument checks of the range ioctls, made in Java before any reaches the kernel: segments
 * off-heap and alive, addresses and lengths whole pages inside the user address space (no
 * overflow past the end), mode flags the ioctl takes; and the timeouts of the calls that wait.
 * Stateless: thread safe.
 */
final class RangeChecks {

    private RangeChecks() {
    }

    /**
     * The address of {@code range}, which must be off-heap and alive (its arena open). The call
     * then works on the segment's own bounds. A segment whose arena another thread closes while
     * the ioctl runs is the caller's race, as with any native call on raw memory.
     */
    static long start(String call, MemorySegment range) {
        Objects.requireNonNull(range, "range");
        segment(call, "range", range);
        return range.address();
    }

    /** The address of {@code src}, which must be off-heap, alive and at least as long as {@code dst}. */
    static long source(String call, MemorySegment src, MemorySegment dst) {
        Objects.requireNonNull(src, "src");
        segment(call, "source", src);
        if (src.byteSize() < dst.byteSize()) {
            throw new IllegalArgumentException(call + ": source has " + src.byteSize() + " bytes, destination " + dst.byteSize());
        }
        return src.address();
    }

    private static void segment(String call, String what, MemorySegment s) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(call + ": the " + what + " must be off-heap memory (never the Java heap); got " + s);
        }
        if (!s.scope().isAlive()) {
            throw new IllegalStateException(call + ": the " + what + " segment's arena is closed (the memory may be unmapped,"
                    + " or reused by another mapping); got " + s);
        }
    }

    /** {@code [address, address + length)} is whole pages inside the user address space. */
    static void pages(String call, long address, long length) {
        long page = Memory.pageSize();
        if (length <= 0) {
            throw new IllegalArgumentException(call + ": length must be positive, not " + length);
        }
        if ((address & (page - 1)) != 0 || (length & (page - 1)) != 0) {
            throw new IllegalArgumentException(call + ": address 0x" + Long.toHexString(address) + " and length "
                    + length + " must be multiples of the page size (" + page + ")");
        }
        if (address < 0 || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException(call + ": [0x" + Long.toHexString(address) + " + " + length
                    + ") is outside the user address space");
        }
    }

    static void mode(String call, int mode, int allowed) {
        if ((mode & ~allowed) != 0) {
            throw new IllegalArgumentException(call + " does not take mode flags 0x" + Integer.toHexString(mode & ~allowed)
                    + " (allowed:" + ((allowed & Userfaultfd.DONT_WAKE) != 0 ? " DONT_WAKE" : "")
                    + ((allowed & Userfaultfd.WRITE_PROTECT) != 0 ? " WRITE_PROTECT" : "")
                    + ((allowed & Userfaultfd.ALLOW_SRC_HOLES) != 0 ? " ALLOW_SRC_HOLES" : "") + ")");
        }
    }

    static void featureSupport(Feature feature, String call) {
        if (!Availability.kernelHas(feature)) {
            throw new UnsupportedOperationException(call + " needs Linux " + feature.sinceKernel()
                    + "; this kernel is " + System.getProperty("os.version"));
        }
    }

    /** poll(2)'s timeout for {@code nanos} (not negative): milliseconds rounded up, so a wait never ends early. */
    static int pollMillis(long nanos) {
        return (int) Math.min(Integer.MAX_VALUE, (nanos + 999_999) / 1_000_000);
    }

    /** A wait's timeout in nanoseconds: refuses a negative one, saturates at Long.MAX_VALUE (wait forever). */
    static long timeoutNanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("negative timeout " + timeout);
        }
        return timeout.compareTo(Duration.ofNanos(Long.MAX_VALUE)) >= 0 ? Long.MAX_VALUE : timeout.toNanos();
    }
}
