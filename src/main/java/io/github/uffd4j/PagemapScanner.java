package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The PAGEMAP_SCAN ioctl on /proc/self/pagemap (Linux 6.7+): reads page states of a range in one
 * call and can write-protect the pages it reports. With a range registered in WP mode on a
 * userfaultfd opened with {@link Feature#WP_ASYNC}, writes never stop the writer: the kernel
 * unprotects the page itself and marks it written, and {@link #collectWritten} returns and
 * re-protects the written pages: dirty tracking without a fault round trip.
 *
 * <p>Thread safe: any number of threads may scan at once, without locking.
 */
public final class PagemapScanner implements AutoCloseable {

    /** The page has asynchronous write protection enabled. */
    public static final long PAGE_IS_WPALLOWED = Abi.PAGE_IS_WPALLOWED;
    /** The page was written since it was last write-protected. */
    public static final long PAGE_IS_WRITTEN = Abi.PAGE_IS_WRITTEN;
    /** The page is file backed. */
    public static final long PAGE_IS_FILE = Abi.PAGE_IS_FILE;
    /** The page is present in memory. */
    public static final long PAGE_IS_PRESENT = Abi.PAGE_IS_PRESENT;
    /** The page is swapped out. */
    public static final long PAGE_IS_SWAPPED = Abi.PAGE_IS_SWAPPED;
    /** The page maps the zero page. */
    public static final long PAGE_IS_PFNZERO = Abi.PAGE_IS_PFNZERO;
    /** The page is a transparent or hugetlb huge page. */
    public static final long PAGE_IS_HUGE = Abi.PAGE_IS_HUGE;
    /** The page is soft-dirty. */
    public static final long PAGE_IS_SOFT_DIRTY = Abi.PAGE_IS_SOFT_DIRTY;

    private static final long ALL_CATEGORIES = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN | PAGE_IS_FILE | PAGE_IS_PRESENT
            | PAGE_IS_SWAPPED | PAGE_IS_PFNZERO | PAGE_IS_HUGE | PAGE_IS_SOFT_DIRTY;

    /** Regions per ioctl of {@link #scan}; later ones come from further ioctls. */
    private static final int SCAN_REGIONS = 512;
    /** Where {@link #isPresent} puts its one page_region in the thread's scratch buffer. */
    private static final long REGION_OFFSET = 128;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;

    private final int fd;
    private final CloseGate gate = new CloseGate();

    private PagemapScanner(int fd) {
        this.fd = fd;
    }

    /**
     * Opens /proc/self/pagemap; each ioctl returns up to 512 regions (scans continue past that).
     *
     * @return the scanner, owning the descriptor (close it)
     */
    public static PagemapScanner open() {
        Native.ensureAvailable();
        int fd = Native.open("/proc/self/pagemap", Abi.O_RDONLY | Abi.O_CLOEXEC);
        if (fd < 0) {
            throw Failures.of("open(/proc/self/pagemap)", Native.errno());
        }
        return new PagemapScanner(fd);
    }

    /**
     * Scans {@code range}: the runs of pages having every category in {@code categoryMask}
     * (none: all pages), with their {@code returnMask} categories. With {@code writeProtect}, the
     * matched pages are write-protected again in the same call (PM_SCAN_WP_MATCHING). Thread
     * safe; each call uses its own buffers.
     *
     * @param range the memory to scan, page aligned
     * @param categoryMask PAGE_IS_* bits a page must all have to match; 0 matches every page
     * @param returnMask the PAGE_IS_* bits to report per run
     * @param writeProtect whether to write-protect the matched pages
     * @return the matching runs, in address order
     */
    public List<PageRegion> scan(MemorySegment range, long categoryMask, long returnMask, boolean writeProtect) {
        Objects.requireNonNull(range, "range");
        enter();
        try (Arena arena = Arena.ofConfined()) {
            if (!range.isNative()) {
                throw new IllegalArgumentException("PAGEMAP_SCAN: only off-heap memory can be scanned");
            }
            if (((categoryMask | returnMask) & ~ALL_CATEGORIES) != 0) {
                throw new IllegalArgumentException("PAGEMAP_SCAN: unknown category bits 0x"
                        + Long.toHexString((categoryMask | returnMask) & ~ALL_CATEGORIES));
            }
            MemorySegment arg = arena.allocate(Abi.PM_SCAN_ARG_SIZE, 8);
            MemorySegment regions = arena.allocate(Abi.PAGE_REGION_SIZE * SCAN_REGIONS, 8);
            long start = range.address();
            long end = start + range.byteSize();
            long flags = writeProtect ? Abi.PM_SCAN_WP_MATCHING | Abi.PM_SCAN_CHECK_WPASYNC : 0;
            List<PageRegion> out = new ArrayList<>();
            while (start < end) {
                arg.fill((byte) 0);
                fillArg(arg, start, end, regions.address(), SCAN_REGIONS, categoryMask, returnMask == 0 ? ALL_CATEGORIES : returnMask);
                arg.set(U64, Abi.PM_SCAN_ARG_FLAGS, flags);
                int n = Native.ioctl(fd, Abi.PAGEMAP_SCAN, arg);
                if (n < 0) {
                    int e = Native.errno();
                    throw Failures.withHint("PAGEMAP_SCAN", e, e == Errno.ENOTTY || e == Errno.EINVAL
                            ? "needs Linux 6.7+; with writeProtect every page must be in a WP range of a WP_ASYNC userfaultfd"
                            : e == Errno.EPERM ? "PM_SCAN_CHECK_WPASYNC: a page in the range lacks async write protection" : "");
                }
                for (int i = 0; i < n; i++) {
                    long r = i * Abi.PAGE_REGION_SIZE;
                    out.add(new PageRegion(regions.get(U64, r + Abi.PAGE_REGION_START), regions.get(U64, r + Abi.PAGE_REGION_END),
                            regions.get(U64, r + Abi.PAGE_REGION_CATEGORIES)));
                }
                long walkEnd = arg.get(U64, Abi.PM_SCAN_ARG_WALK_END);
                if (walkEnd <= start) {
                    break;
                }
                start = walkEnd;
            }
            return out;
        } finally {
            gate.exit();
        }
    }

    /**
     * Whether every page of {@code [address, address + length)} is mapped in this process's page
     * tables right now (PAGEMAP_SCAN for PAGE_IS_PRESENT, Linux 6.7+). Thread safe without a lock
     * and allocation-free (the ioctl's struct lives in the calling thread's scratch buffer): cheap
     * enough to settle, on the fault path of several handler threads at once, whether a page some
     * bookkeeping calls present really is.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @return true when every page is present
     */
    public boolean isPresent(long address, long length) {
        enter();
        try {
            Native.ThreadState t = Native.thread();
            MemorySegment arg = t.struct(Abi.PM_SCAN_ARG_SIZE);
            fillArg(arg, address, address + length, arg.address() + REGION_OFFSET, 1, PAGE_IS_PRESENT, PAGE_IS_PRESENT);
            int n = t.ioctl(fd, Abi.PAGEMAP_SCAN);
            if (n < 0) {
                int e = t.errno();
                throw Failures.withHint("PAGEMAP_SCAN", e, e == Errno.ENOTTY || e == Errno.EINVAL ? "needs Linux 6.7+" : "");
            }
            return n == 1 && arg.get(U64, REGION_OFFSET + Abi.PAGE_REGION_START) == address
                    && arg.get(U64, REGION_OFFSET + Abi.PAGE_REGION_END) == address + length;
        } finally {
            gate.exit();
        }
    }

    private static void fillArg(MemorySegment arg, long start, long end, long vec, long vecLen, long categories, long returned) {
        arg.set(U64, Abi.PM_SCAN_ARG_SIZE_FIELD, Abi.PM_SCAN_ARG_SIZE);
        arg.set(U64, Abi.PM_SCAN_ARG_START, start);
        arg.set(U64, Abi.PM_SCAN_ARG_END, end);
        arg.set(U64, Abi.PM_SCAN_ARG_VEC, vec);
        arg.set(U64, Abi.PM_SCAN_ARG_VEC_LEN, vecLen);
        arg.set(U64, Abi.PM_SCAN_ARG_CATEGORY_MASK, categories);
        arg.set(U64, Abi.PM_SCAN_ARG_RETURN_MASK, returned);
    }

    private void enter() {
        if (!gate.enter()) {
            throw new IllegalStateException("PAGEMAP_SCAN: the scanner is closed");
        }
    }

    /**
     * The pages of {@code range} written since they were last protected, write-protecting them
     * again atomically: the next call returns only later writes. The range must be registered in
     * WP mode with a {@link Feature#WP_ASYNC} userfaultfd.
     *
     * @param range the registered memory, page aligned
     * @return the written runs, in address order
     */
    public List<PageRegion> collectWritten(MemorySegment range) {
        return scan(range, PAGE_IS_WRITTEN, PAGE_IS_WRITTEN, true);
    }

    /**
     * Closes /proc/self/pagemap, after the calls in progress return. Later calls throw
     * {@link IllegalStateException}. Idempotent: closing again does nothing.
     */
    @Override
    public void close() {
        if (gate.close(null, Duration.ofSeconds(5))) {
            Native.close(fd);
        }
    }
}
