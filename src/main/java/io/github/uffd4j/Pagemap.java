package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.BitSet;

/**
 * The page table entries of a process as {@code /proc/<pid>/pagemap} reports them: one 64-bit
 * entry per base page (also inside huge pages), with flags such as {@link #UFFD_WP} (the page is
 * write-protected by a userfaultfd), {@link #PRESENT} and {@link #SWAPPED}. Works on this process
 * ({@link #open()}) and on another one ({@link #open(long)}): the way a pager checks the
 * write-protection state of the memory it serves. {@link PagemapScanner} asks the same file about
 * whole ranges at once with the PAGEMAP_SCAN ioctl, on this process only.
 *
 * <p>Reading another process's pagemap needs the right to ptrace it (PTRACE_MODE_READ: same user
 * and not made undumpable, or CAP_SYS_PTRACE); the page frame numbers in bits 0-54 read as zero
 * without CAP_SYS_ADMIN, the flags do not.
 *
 * <p>Thread safe: any number of threads may read at once (pread at an offset), without locking.
 */
public final class Pagemap implements AutoCloseable {

    /** Bit 63: the page is present in memory. */
    public static final long PRESENT = Abi.PM_PRESENT;
    /** Bit 62: the page is swapped out. */
    public static final long SWAPPED = Abi.PM_SWAP;
    /** Bit 61: the page is a file page or shared anonymous memory (shmem). */
    public static final long FILE_OR_SHARED = Abi.PM_FILE;
    /** Bit 57: the entry is write-protected by a userfaultfd (Linux 5.19 for every memory type, 5.7 anonymous). */
    public static final long UFFD_WP = Abi.PM_UFFD_WP;
    /** Bit 56: the page is mapped by this process only (Linux 4.2). */
    public static final long EXCLUSIVE = Abi.PM_MMAP_EXCLUSIVE;
    /** Bit 55: the entry is soft-dirty (see the kernel's soft-dirty documentation). */
    public static final long SOFT_DIRTY = Abi.PM_SOFT_DIRTY;

    private static final long ENTRY_BYTES = 8;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;

    private final int fd;
    private final long pid;
    private final String file;
    private final CloseGate gate = new CloseGate();

    private Pagemap(int fd, long pid, String file) {
        this.fd = fd;
        this.pid = pid;
        this.file = file;
    }

    /**
     * Opens this process's pagemap.
     *
     * @return the pagemap, owning its descriptor (close it)
     * @throws UffdException {@code call()} "open(/proc/self/pagemap)" when /proc is not mounted
     */
    public static Pagemap open() {
        return open("/proc/self/pagemap", ProcessHandle.current().pid());
    }

    /**
     * Opens the pagemap of process {@code pid} (this one's too, by its number).
     *
     * @param pid the process id
     * @return the pagemap, owning its descriptor (close it)
     * @throws IllegalArgumentException when {@code pid} is not a possible process id
     * @throws UffdException            {@code call()} "open(/proc/PID/pagemap)": ENOENT when there is
     *                                  no such process; EACCES or EPERM when this process may not
     *                                  ptrace it
     */
    public static Pagemap open(long pid) {
        if (pid <= 0 || pid > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("not a process id: " + pid);
        }
        return open("/proc/" + pid + "/pagemap", pid);
    }

    private static Pagemap open(String file, long pid) {
        Native.ensureAvailable();
        int fd = Native.open(file, Abi.O_RDONLY | Abi.O_CLOEXEC);
        if (fd < 0) {
            int e = Native.errno();
            throw Failures.withHint("open(" + file + ")", e, e == Errno.ENOENT ? "there is no process " + pid
                    + " (it exited, or lives in another pid namespace), or /proc is not mounted"
                    : e == Errno.EACCES || e == Errno.EPERM ? "this process may not read process " + pid
                      + "'s memory map: it needs the right to ptrace it (the same user, not undumpable, and"
                      + " kernel.yama.ptrace_scope allowing it), or CAP_SYS_PTRACE"
                    : "");
        }
        return new Pagemap(fd, pid, file);
    }

    /**
     * The process whose page tables this reads.
     *
     * @return the process id
     */
    public long pid() {
        return pid;
    }

    /**
     * The entry of the base page holding {@code address}. Allocation-free.
     *
     * @param address any address of the process (need not be aligned)
     * @return the 64-bit entry: 0 when nothing is mapped there or the page was never touched
     * @throws IllegalArgumentException when {@code address} is negative
     * @throws UffdException            {@code call()} "pread(/proc/PID/pagemap)": ESRCH when the
     *                                  process has exited
     */
    public long entry(long address) {
        if (address < 0) {
            throw new IllegalArgumentException("pagemap: 0x" + Long.toHexString(address) + " is outside the user address space");
        }
        enter();
        try {
            MemorySegment buffer = Native.thread().scratch();
            read(buffer.address(), address / Memory.pageSize(), 1);
            return buffer.get(U64, 0);
        } finally {
            gate.exit();
        }
    }

    /**
     * The entries of the pages of {@code [address, address + length)}, in address order.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @return one entry per base page
     * @throws IllegalArgumentException when the range is not whole pages of the user address space
     *                                  or has more than 2^31 - 1 pages
     * @throws UffdException            {@code call()} "pread(/proc/PID/pagemap)": ESRCH when the
     *                                  process has exited
     */
    public long[] entries(long address, long length) {
        RangeChecks.pages("pagemap", address, length);
        long pages = length / Memory.pageSize();
        if (pages > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("pagemap: " + pages + " pages do not fit an array");
        }
        enter();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(pages * ENTRY_BYTES, ENTRY_BYTES);
            read(buffer.address(), address / Memory.pageSize(), pages);
            return buffer.toArray(U64);
        } finally {
            gate.exit();
        }
    }

    /**
     * Whether the page holding {@code address} is write-protected by a userfaultfd: bit 57
     * ({@link #UFFD_WP}) of its entry. With {@link Feature#WP_UNPOPULATED} (or on shmem and
     * hugetlb) a page that was never touched can be write-protected too (a marker entry).
     *
     * @param address any address of the process
     * @return true when the entry has the userfaultfd write-protect bit
     */
    public boolean isUffdWriteProtected(long address) {
        return (entry(address) & UFFD_WP) != 0;
    }

    /**
     * Which pages of {@code [address, address + length)} are write-protected by a userfaultfd.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @return bit {@code i} set when base page {@code i} of the range has {@link #UFFD_WP}
     */
    public BitSet uffdWriteProtected(long address, long length) {
        long[] e = entries(address, length);
        BitSet wp = new BitSet(e.length);
        for (int i = 0; i < e.length; i++) {
            if ((e[i] & UFFD_WP) != 0) {
                wp.set(i);
            }
        }
        return wp;
    }

    /** pread's {@code pages} entries from page number {@code firstPage} into {@code buf}, all of them or an exception. */
    private void read(long buf, long firstPage, long pages) {
        String call = "pread(" + file + ")";
        long want = pages * ENTRY_BYTES;
        long offset = firstPage * ENTRY_BYTES;
        long done = 0;
        while (done < want) {
            long n = Native.pread(fd, buf + done, want - done, offset + done);
            if (n > 0) {
                done += n;
                continue;
            }
            int e = n == 0 ? Errno.ESRCH : Native.errno();
            if (e == Errno.EINTR) {
                continue;
            }
            long address = firstPage * Memory.pageSize();
            throw Failures.withHint(call, e, address, pages * Memory.pageSize(), done / ENTRY_BYTES * Memory.pageSize(),
                    n == 0 ? "process " + pid + " has exited (its pagemap reads as empty), or the range is past the end"
                             + " of its address space"
                    : e == Errno.ESRCH ? "process " + pid + " has exited" : "");
        }
    }

    private void enter() {
        if (!gate.enter()) {
            throw new IllegalStateException("pagemap of process " + pid + " is closed");
        }
    }

    /**
     * Closes the descriptor, after the reads in progress return. Later calls throw
     * {@link IllegalStateException}. Idempotent.
     */
    @Override
    public void close() {
        if (gate.close(null, Duration.ofSeconds(5))) {
            Native.close(fd);
        }
    }

    @Override
    public String toString() {
        return "Pagemap[" + file + "]";
    }
}
