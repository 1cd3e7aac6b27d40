package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One madvise advice ({@link Mapping#dontNeedBatch MADV_DONTNEED}, {@link Mapping#removeBatch
 * MADV_REMOVE}) for many runs of one mapping, with few system calls: runs are collected and
 * handed to process_madvise(2) on this process up to 1024 at a time. Dropping 100,000 scattered
 * pages that way took 54 ms here against 400 ms with one madvise(2) each: the kernel shoots down
 * the other CPUs' TLB entries once per call instead of once per run (Linux 6.16+; 6.13+ accept any
 * advice on the calling process). Where the kernel or a seccomp filter refuses process_madvise
 * (older kernels say EINVAL, ENOSYS or EPERM), each run gets its own madvise(2), so the batch
 * works everywhere the single calls do, and fails the same way (a {@link UffdException} naming
 * the run).
 *
 * <p>The runs are advised in the order added, at the latest by {@link #close}; a run added after
 * 1024 others makes the call for those first. Close the batch before its mapping: runs still
 * pending when the mapping is gone are refused, not advised. Not thread safe; confined to the
 * thread that made it (its iovec buffer is), {@link #close} included.
 */
public final class MadviseBatch implements AutoCloseable {

    /** UIO_MAXIOV: the most runs one process_madvise takes. */
    private static final int MAX_RUNS = 1024;
    /** A pidfd of this process, opened at the first batch; -1 when none could be. */
    private static volatile int selfPidfd = -2;
    /** process_madvise on this process refused for good (the runs then go one madvise each). */
    private static volatile boolean refused;

    private final Mapping mapping;
    private final String call;
    private final int advice;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment iovecs;
    private final long[] bases = new long[MAX_RUNS];
    private final long[] lengths = new long[MAX_RUNS];
    private int count;

    MadviseBatch(Mapping mapping, String call, int advice) {
        this.mapping = mapping;
        this.call = call;
        this.advice = advice;
        this.iovecs = arena.allocate(Abi.IOVEC_SIZE * MAX_RUNS, 8);
    }

    /**
     * Whether batches go through process_madvise here (false: one madvise per run, which the
     * kernel or a seccomp filter asks for). Known once a batch has made a call.
     *
     * @return true while process_madvise has not been refused
     */
    public static boolean batchesInKernel() {
        return !refused && selfPidfd != -1;
    }

    /**
     * Adds the run [offset, offset + length) of the mapping; the call for the runs before it is
     * made first when 1024 are pending.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws IndexOutOfBoundsException when the run is not inside the mapping
     * @throws IllegalStateException     when the mapping or the batch is closed
     * @throws UffdException             when the pending runs were advised now and one failed
     */
    public void add(long offset, long length) {
        mapping.checkSubrange(call, offset, length);
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(call + ": the batch is closed");
        }
        if (count == MAX_RUNS) {
            flush();
        }
        long base = mapping.address() + offset;
        bases[count] = base;
        lengths[count] = length;
        Native.iovec(iovecs, count * Abi.IOVEC_SIZE, base, length);
        count++;
    }

    /**
     * Advises the runs pending now.
     *
     * @throws UffdException when a run failed (the runs before it are advised; the ones after it
     *                       are dropped from the batch)
     * @throws IllegalStateException when the mapping was closed (the pending runs are dropped)
     */
    public void flush() {
        int n = count;
        count = 0;
        if (n == 0) {
            return;
        }
        if (!mapping.isOpen()) {
            // its addresses may hold another mapping by now: advising them could drop someone else's pages
            throw new IllegalStateException(call + ": the mapping was closed with " + n + " runs still pending; they were not"
                    + " advised");
        }
        int first = 0;
        int pidfd = refused ? -1 : selfPidfd();
        if (pidfd >= 0) {
            long total = 0;
            for (int i = 0; i < n; i++) {
                total += lengths[i];
            }
            long done = Native.processMadvise(pidfd, iovecs.address(), n, advice);
            if (done == total) {
                return;
            }
            int e = done < 0 ? Native.errno() : 0;
            if (done < 0) {
                done = 0;
            }
            // what the call did not finish (EINTR, an error in some run, or a refusal), one run at a time: a
            // run it had begun is advised again whole, which these advices allow
            while (first < n && done >= lengths[first]) {
                done -= lengths[first];
                first++;
            }
            boolean wholeBatchRefused = first == 0 && done == 0
                    && (e == Errno.EINVAL || e == Errno.ENOSYS || e == Errno.EPERM || e == Errno.EBADF);
            for (int i = first; i < n; i++) {
                Memory.madvise(call, bases[i], lengths[i], advice);
            }
            if (wholeBatchRefused) {
                refused = true; // the kernel takes the advice, not the batch: stop asking it
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            Memory.madvise(call, bases[i], lengths[i], advice);
        }
    }

    /**
     * Advises the runs still pending, then frees the batch.
     *
     * @throws UffdException when a run failed
     */
    @Override
    public void close() {
        if (!arena.scope().isAlive()) {
            return;
        }
        try {
            flush();
        } finally {
            arena.close();
        }
    }

    /**
     * A pidfd of this process (pidfd_open, Linux 5.3+), opened once and kept; -1 when there is none
     * (for good where the kernel lacks the call or a filter forbids it; a passing shortage of
     * descriptors, EMFILE, is tried again by the next batch).
     */
    private static int selfPidfd() {
        int fd = selfPidfd;
        if (fd != -2) {
            return fd;
        }
        synchronized (MadviseBatch.class) {
            if (selfPidfd == -2) {
                long rc = Native.syscall(Abi.SYS_pidfd_open, (int) ProcessHandle.current().pid(), 0, 0);
                if (rc >= 0) {
                    selfPidfd = (int) rc;
                } else {
                    int e = Native.errno();
                    if (e == Errno.EMFILE || e == Errno.ENFILE || e == Errno.ENOMEM) {
                        return -1; // this batch goes one madvise per run
                    }
                    selfPidfd = -1;
                }
            }
            return selfPidfd;
        }
    }
}
