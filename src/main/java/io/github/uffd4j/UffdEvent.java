package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

/**
 * A message read from a userfaultfd (struct uffd_msg), decoded.
 *
 * <p>Page faults always arrive; the other events only when the matching {@link Feature} was
 * requested: {@link Fork} with {@link Feature#EVENT_FORK}, {@link Remap} with
 * {@link Feature#EVENT_REMAP}, {@link Remove} with {@link Feature#EVENT_REMOVE} and
 * {@link Unmap} with {@link Feature#EVENT_UNMAP}. The non-page-fault events block the thread that
 * caused them until they are read.
 *
 * <p>The records are immutable: thread safe.
 */
public sealed interface UffdEvent {

    /** The UFFD_PAGEFAULT_FLAG_WRITE bit of {@link PageFault#flags()}. */
    long FLAG_WRITE = Abi.UFFD_PAGEFAULT_FLAG_WRITE;
    /** The UFFD_PAGEFAULT_FLAG_WP bit of {@link PageFault#flags()}. */
    long FLAG_WP = Abi.UFFD_PAGEFAULT_FLAG_WP;
    /** The UFFD_PAGEFAULT_FLAG_MINOR bit of {@link PageFault#flags()}. */
    long FLAG_MINOR = Abi.UFFD_PAGEFAULT_FLAG_MINOR;

    /**
     * A thread touched a registered page and sleeps until the fault is resolved.
     *
     * @param address  the faulting address, rounded down to the page unless
     *                 {@link Feature#EXACT_ADDRESS} was requested
     * @param flags    UFFD_PAGEFAULT_FLAG_* bits ({@link #FLAG_WRITE}, {@link #FLAG_WP}, {@link #FLAG_MINOR})
     * @param threadId the faulting thread's kernel id with {@link Feature#THREAD_ID}, else 0
     */
    record PageFault(long address, long flags, int threadId) implements UffdEvent {
        /**
         * A write access (else a read).
         *
         * @return true for a write, false for a read
         */
        public boolean isWrite() {
            return (flags & FLAG_WRITE) != 0;
        }

        /**
         * A write to a write-protected page (WP mode).
         *
         * @return true for a write-protect fault
         */
        public boolean isWriteProtect() {
            return (flags & FLAG_WP) != 0;
        }

        /**
         * A minor fault: the page is in the page cache but not mapped (MINOR mode).
         *
         * @return true for a minor fault
         */
        public boolean isMinor() {
            return (flags & FLAG_MINOR) != 0;
        }

        /**
         * Neither WP nor MINOR: the page is missing (MISSING mode).
         *
         * @return true for a missing-page fault
         */
        public boolean isMissing() {
            return (flags & (FLAG_WP | FLAG_MINOR)) == 0;
        }

        @Override
        public String toString() {
            return "PageFault[0x" + Long.toHexString(address) + (isWrite() ? " write" : " read")
                    + (isWriteProtect() ? " wp" : "") + (isMinor() ? " minor" : "")
                    + (threadId != 0 ? " tid " + threadId : "") + "]";
        }
    }

    /**
     * The process forked: {@code child} is a new userfaultfd for the child's copy of the
     * registered ranges, already open in this process. Close it when done.
     *
     * @param child the child's userfaultfd, owned by the receiver
     */
    record Fork(Userfaultfd child) implements UffdEvent {
    }

    /**
     * A registered range moved: {@code mremap(from, length) -> to}.
     *
     * @param from the range's old start address
     * @param to its new start address
     * @param length its length in bytes
     */
    record Remap(long from, long to, long length) implements UffdEvent {
    }

    /**
     * {@code [start, end)} was zapped by madvise(MADV_DONTNEED or MADV_REMOVE): it stays
     * registered, and the next touch faults again as missing.
     *
     * @param start the first byte zapped
     * @param end one past the last byte zapped
     */
    record Remove(long start, long end) implements UffdEvent {
    }

    /**
     * {@code [start, end)} was unmapped: it is no longer registered.
     *
     * @param start the first byte unmapped
     * @param end one past the last byte unmapped
     */
    record Unmap(long start, long end) implements UffdEvent {
    }
}
