package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Maps the off-heap memory that userfaultfd works on. Every mapping is released by closing it.
 *
 * <p>Static methods only: thread safe.
 */
public final class Memory {

    private static final long PAGE_SIZE = probePageSize();

    private Memory() {
    }

    private static long probePageSize() {
        if (!Native.isAvailable()) {
            return 4096;
        }
        long p = Native.sysconf(Abi._SC_PAGESIZE);
        return p > 0 ? p : 4096;
    }

    /**
     * The base page size (sysconf(_SC_PAGESIZE)).
     *
     * @return the page size in bytes (4096 when native access is off)
     */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /**
     * Rounds {@code bytes} up to a multiple of {@code page}.
     *
     * @param bytes a size in bytes, not negative
     * @param page the unit, a power of two or any positive number
     * @return the smallest multiple of {@code page} not below {@code bytes}
     */
    public static long roundUp(long bytes, long page) {
        return (bytes + page - 1) / page * page;
    }

    /**
     * Private anonymous memory, {@code size} bytes (rounded up to whole pages), not yet populated.
     *
     * @param size the size in bytes
     * @return the mapping, owned by the caller (close it to unmap)
     */
    public static Mapping anonymous(long size) {
        Native.ensureAvailable();
        long len = checkedSize(size, PAGE_SIZE);
        long address = map(len, Abi.MAP_PRIVATE | Abi.MAP_ANONYMOUS | Abi.MAP_NORESERVE, -1);
        return new Mapping(address, len, PAGE_SIZE, Mapping.Kind.ANONYMOUS);
    }

    /**
     * Private anonymous memory like {@link #anonymous(long)} whose start address is a multiple of
     * {@code alignment}: for example 2 MiB, so that every 2 MiB block of it can become a
     * transparent huge page ({@link Mapping#hugePage}, {@link Mapping#collapse}). It maps
     * {@code size + alignment - pageSize()} bytes of address space and unmaps the parts before
     * and after the aligned block (MAP_NORESERVE: the extra costs no memory, only briefly address
     * space).
     *
     * @param size the size in bytes, rounded up to whole pages
     * @param alignment a power of two, at least {@link #pageSize()}
     * @return the mapping, owned by the caller (close it to unmap)
     * @throws IllegalArgumentException when {@code alignment} is not a power of two of at least a
     *                                  page, or {@code size} is not positive or too large
     * @throws UffdException            {@code call()} "mmap": ENOMEM when the address space has no
     *                                  free range that large
     */
    public static Mapping anonymousAligned(long size, long alignment) {
        Native.ensureAvailable();
        if (alignment < PAGE_SIZE || Long.bitCount(alignment) != 1 || alignment > 1L << 46) {
            throw new IllegalArgumentException("mmap: alignment " + alignment + " must be a power of two from the page size "
                    + PAGE_SIZE + " to 2^46");
        }
        long len = checkedSize(size, PAGE_SIZE);
        if (len > (1L << 47) - alignment) {
            throw new IllegalArgumentException("mmap: " + len + " bytes aligned to " + alignment + " do not fit the user address space");
        }
        long span = len + alignment - PAGE_SIZE;
        long raw = map(span, Abi.MAP_PRIVATE | Abi.MAP_ANONYMOUS | Abi.MAP_NORESERVE, -1);
        long start = (raw + alignment - 1) & -alignment;
        if (start > raw) {
            Native.munmap(raw, start - raw);
        }
        if (raw + span > start + len) {
            Native.munmap(start + len, raw + span - (start + len));
        }
        return new Mapping(start, len, PAGE_SIZE, Mapping.Kind.ANONYMOUS);
    }

    /**
     * Private anonymous memory like {@link #anonymous(long)} at exactly {@code address}
     * (MAP_FIXED_NOREPLACE, Linux 4.17+): when anything is mapped in
     * {@code [address, address + size)} (another {@code Mapping}, the Java heap, a library) it
     * fails instead of replacing it. The way to rebuild a layout at known addresses, as a
     * restored process or the kernel's selftests do.
     *
     * @param address the first byte, page aligned, not 0
     * @param size the size in bytes, rounded up to whole pages
     * @return the mapping, owned by the caller (close it to unmap)
     * @throws IllegalArgumentException when {@code address} is 0, not page aligned, or the range
     *                                  leaves the user address space
     * @throws UffdException            {@code call()} "mmap(MAP_FIXED_NOREPLACE)": EEXIST when
     *                                  something is mapped in the range (or the kernel, before
     *                                  4.17, took the address as a mere hint); EPERM or EACCES
     *                                  below vm.mmap_min_addr; ENOMEM when the range is beyond the
     *                                  address space limit
     */
    public static Mapping anonymousAt(long address, long size) {
        Native.ensureAvailable();
        long len = checkedSize(size, PAGE_SIZE);
        if (address <= 0 || (address & (PAGE_SIZE - 1)) != 0 || address > Long.MAX_VALUE - len) {
            throw new IllegalArgumentException("mmap(MAP_FIXED_NOREPLACE): address 0x" + Long.toHexString(address)
                    + " must be a non-zero multiple of the page size " + PAGE_SIZE + " in the user address space");
        }
        mapAt(address, len, Abi.PROT_READ | Abi.PROT_WRITE, Abi.MAP_PRIVATE | Abi.MAP_ANONYMOUS | Abi.MAP_NORESERVE,
                "something is already mapped in the range (another mapping, the Java heap, a library): choose a free one");
        return new Mapping(address, len, PAGE_SIZE, Mapping.Kind.ANONYMOUS);
    }

    /**
     * mmap with MAP_FIXED_NOREPLACE at {@code target}; {@code busyHint} is the advice when the
     * range is not free. A kernel before 4.17, which takes the flag as a hint and maps elsewhere,
     * gets its mapping undone and the same EEXIST.
     */
    static void mapAt(long target, long length, int prot, int flags, String busyHint) {
        String call = "mmap(MAP_FIXED_NOREPLACE)";
        long got = Native.mmap(target, length, prot, flags | Abi.MAP_FIXED_NOREPLACE, -1, 0);
        if (got == -1) {
            int e = Native.errno();
            throw new UffdException(call, e, target, length, 0, e == Errno.EEXIST ? busyHint
                    : e == Errno.EPERM || e == Errno.EACCES ? "the address is below vm.mmap_min_addr" : "");
        }
        if (got != target) {
            Native.munmap(got, length);
            throw new UffdException(call, Errno.EEXIST, target, length, 0,
                    "this kernel (" + System.getProperty("os.version") + ") cannot map at a fixed address without replacing"
                            + " (MAP_FIXED_NOREPLACE needs Linux 4.17+), or the target is not free");
        }
    }

    /**
     * Private anonymous hugetlb memory of {@code pageSize} pages. The huge page pool must hold
     * enough free pages ({@link #freeHugePages}, {@link #reserveHugePages}); else ENOMEM.
     *
     * @param size the size in bytes, rounded up to whole huge pages
     * @param pageSize the huge page size
     * @return the mapping, owned by the caller
     */
    public static Mapping hugetlb(long size, HugePageSize pageSize) {
        return hugetlb(size, pageSize, false);
    }

    /**
     * Private anonymous hugetlb memory, with {@code noReserve} mapped MAP_NORESERVE: the kernel
     * does not reserve the huge pages from the pool when mapping, so mapping succeeds even when
     * the pool is short, and a page is taken from the pool only when first touched or filled
     * (UFFDIO_COPY). A touch that finds the pool empty then raises SIGBUS in the touching thread,
     * and UFFDIO_COPY fails with ENOMEM, instead of the mapping failing up front. The kernel's
     * userfaultfd selftests map their hugetlb destination areas this way.
     *
     * @param size the size in bytes, rounded up to whole huge pages
     * @param pageSize the huge page size
     * @param noReserve true for MAP_NORESERVE
     * @return the mapping, owned by the caller
     * @throws UffdException {@code call()} "mmap": ENOMEM when the pool is short (without
     *                       {@code noReserve}), EINVAL when this huge page size has no pool
     */
    public static Mapping hugetlb(long size, HugePageSize pageSize, boolean noReserve) {
        Objects.requireNonNull(pageSize, "pageSize");
        Native.ensureAvailable();
        long len = checkedSize(size, pageSize.bytes());
        long address = map(len, Abi.MAP_PRIVATE | Abi.MAP_ANONYMOUS
                | Abi.MAP_HUGETLB | pageSize.mmapFlag() | (noReserve ? Abi.MAP_NORESERVE : 0), -1);
        return new Mapping(address, len, pageSize.bytes(), Mapping.Kind.HUGETLB);
    }

    /**
     * Shared memory on shmem (a memfd) mapped twice: a view to register and an alias to fill it.
     *
     * @param size the size in bytes, rounded up to whole pages
     * @return the memfd and its two mappings, owned by the caller
     */
    public static SharedMemory shared(long size) {
        return sharedMemory(size, null);
    }

    /**
     * Shared memory on hugetlbfs (a memfd with MFD_HUGETLB) mapped twice.
     *
     * @param size the size in bytes, rounded up to whole huge pages
     * @param pageSize the huge page size
     * @return the memfd and its two mappings, owned by the caller
     */
    public static SharedMemory sharedHugetlb(long size, HugePageSize pageSize) {
        return sharedMemory(size, Objects.requireNonNull(pageSize, "pageSize (use Memory.shared for shmem with base pages)"));
    }

    /**
     * Maps {@code size} bytes of shared memory from a descriptor received from another process (a
     * memfd on shmem or hugetlbfs): the way a pager writes the page cache of an app's shared
     * memory before UFFDIO_CONTINUE. The caller keeps owning {@code fd} (the mapping does not
     * need it once made). {@code pageSize} is the memory's page size: the base page size for
     * shmem, the huge page size for hugetlbfs (the mapping fails with EINVAL when it does not
     * match the file's).
     *
     * @param fd the memfd, still the caller's
     * @param size the bytes to map, whole pages
     * @param pageSize the memory's page size in bytes
     * @return the mapping, owned by the caller
     */
    public static Mapping mapShared(int fd, long size, long pageSize) {
        long len = checkedFileMapping(fd, size, pageSize);
        Mapping.Kind kind = pageSize == PAGE_SIZE ? Mapping.Kind.SHMEM : Mapping.Kind.SHARED_HUGETLB;
        return new Mapping(map(len, Abi.MAP_SHARED, fd), len, pageSize, kind);
    }

    /**
     * Maps {@code size} bytes of a memfd (shmem or hugetlbfs) MAP_PRIVATE: a copy-on-write view
     * whose reads see the file's pages and whose writes make pages private to this mapping,
     * leaving the file unchanged (the "shmem-private" and "hugetlb-private" memory of the kernel's
     * userfaultfd selftests). The caller keeps owning {@code fd}. {@code pageSize} as in
     * {@link #mapShared}. With {@code noReserve} the mapping is MAP_NORESERVE: on hugetlbfs no
     * huge pages are reserved for its private copies up front (a write that then finds the pool
     * empty raises SIGBUS); on shmem it only skips the swap accounting of the private copies.
     *
     * @param fd the memfd, still the caller's
     * @param size the bytes to map, whole pages
     * @param pageSize the memory's page size in bytes
     * @param noReserve true for MAP_NORESERVE
     * @return the mapping ({@link Mapping.Kind#PRIVATE_SHMEM} or
     *         {@link Mapping.Kind#PRIVATE_HUGETLBFS}), owned by the caller
     * @throws IllegalArgumentException when {@code fd} is negative or {@code pageSize} is neither
     *                                  the base page size nor a huge page size
     * @throws UffdException            {@code call()} "mmap": EINVAL when {@code pageSize} does not
     *                                  match the file's, ENOMEM when the huge page pool is short
     *                                  (without {@code noReserve}), EBADF when {@code fd} is not open
     */
    public static Mapping mapPrivate(int fd, long size, long pageSize, boolean noReserve) {
        long len = checkedFileMapping(fd, size, pageSize);
        Mapping.Kind kind = pageSize == PAGE_SIZE ? Mapping.Kind.PRIVATE_SHMEM : Mapping.Kind.PRIVATE_HUGETLBFS;
        return new Mapping(map(len, Abi.MAP_PRIVATE | (noReserve ? Abi.MAP_NORESERVE : 0), fd), len, pageSize, kind);
    }

    private static SharedMemory sharedMemory(long size, HugePageSize huge) {
        Native.ensureAvailable();
        long page = huge == null ? PAGE_SIZE : huge.bytes();
        long len = checkedSize(size, page);
        int flags = Abi.MFD_CLOEXEC | (huge == null ? 0 : Abi.MFD_HUGETLB | huge.memfdFlag());
        int fd = Native.memfdCreate("uffd4j", flags);
        if (fd < 0) {
            throw Failures.of("memfd_create", Native.errno());
        }
        Mapping view = null;
        try {
            if (Native.ftruncate(fd, len) != 0) {
                throw Failures.of("ftruncate", Native.errno(), 0, len);
            }
            Mapping.Kind kind = huge == null ? Mapping.Kind.SHMEM : Mapping.Kind.SHARED_HUGETLB;
            int shared = Abi.MAP_SHARED;
            view = new Mapping(map(len, shared, fd), len, page, kind);
            Mapping alias = new Mapping(map(len, shared, fd), len, page, kind);
            return new SharedMemory(fd, view, alias);
        } catch (RuntimeException e) {
            if (view != null) {
                view.close();
            }
            Native.close(fd);
            throw e;
        }
    }

    /** Checks the arguments of a memfd mapping before the kernel sees them; returns the length, whole pages. */
    private static long checkedFileMapping(int fd, long size, long pageSize) {
        Native.ensureAvailable();
        if (fd < 0) {
            throw new IllegalArgumentException("not a descriptor: " + fd);
        }
        if (pageSize != PAGE_SIZE && HugePageSize.ofBytes(pageSize) == null) {
            throw new IllegalArgumentException("page size " + pageSize + " is neither the base page size nor a huge page size");
        }
        return checkedSize(size, pageSize);
    }

    private static long checkedSize(long size, long page) {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive, not " + size);
        }
        return roundUp(size, page);
    }

    private static long map(long len, int flags, int fd) {
        long address = Native.mmap(0, len, Abi.PROT_READ | Abi.PROT_WRITE, flags, fd, 0);
        if (address == -1) {
            int e = Native.errno();
            throw Failures.of("mmap", e, 0, len);
        }
        return address;
    }

    // ---- madvise on raw addresses -------------------------------------------------------------

    private static final String POPULATE_READ = "madvise(MADV_POPULATE_READ)";
    private static final String POPULATE_WRITE = "madvise(MADV_POPULATE_WRITE)";
    private static final String DONT_NEED = "madvise(MADV_DONTNEED)";

    /**
     * Faults {@code [address, address + length)} in from native code: madvise(MADV_POPULATE_READ),
     * or MADV_POPULATE_WRITE when {@code write} (Linux 5.14+). A page of a userfaultfd-registered
     * range that is missing is reported to its handler and this thread waits for it in the kernel,
     * not in Java code (a JVM safepoint is not held up). Retries EINTR itself; allocates nothing
     * unless it fails.
     *
     * <p>Trusts the caller: the range is not checked against any {@link Mapping}, only for page
     * alignment; an unmapped range fails with ENOMEM.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @param write true to fault the pages in for writing
     * @throws IllegalArgumentException if address or length is not page aligned, or length is not positive
     * @throws UffdException            {@code call()} is "madvise(MADV_POPULATE_READ)" or
     *                                  "madvise(MADV_POPULATE_WRITE)": EFAULT or EHWPOISON for a
     *                                  poisoned page (or one a SIGBUS-mode userfaultfd refuses),
     *                                  ENOMEM for a range not wholly mapped, EINVAL on kernels before
     *                                  5.14 or mappings that cannot be populated (VM_PFNMAP, VM_IO)
     */
    public static void populate(long address, long length, boolean write) {
        String call = write ? POPULATE_WRITE : POPULATE_READ;
        checkPageRange(call, address, length);
        int advice = write ? Advice.POPULATE_WRITE : Advice.POPULATE_READ;
        madvise(call, address, length, advice);
    }

    /**
     * madvise(MADV_DONTNEED) on {@code [address, address + length)}: drops the pages. Private
     * memory reads back as missing (a registered range reports MISSING faults again, after a
     * REMOVE event); shared memory keeps its contents in the page cache. Trusts the caller like
     * {@link #populate}: only alignment is checked.
     *
     * @param address the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_DONTNEED)": EINVAL for locked or
     *                       huge-page-misaligned ranges, ENOMEM for a range not wholly mapped
     */
    public static void dontNeed(long address, long length) {
        checkPageRange(DONT_NEED, address, length);
        madvise(DONT_NEED, address, length, Advice.DONT_NEED);
    }

    /**
     * Copies {@code dst.byteSize()} bytes starting at {@code address} of this process into
     * {@code dst}, through the kernel. The difference from a plain copy is what happens on a page
     * that is not there: a missing page of a range registered with a userfaultfd is faulted in
     * while the calling thread waits inside a system call (in native code, where it does not hold
     * up a JVM safepoint), and a poisoned or unmapped page fails with a {@link UffdException}
     * (with {@code bytesDone()} saying how far the copy got) instead of a signal. Allocation-free.
     *
     * <p>It uses process_vm_readv on this process. Where a seccomp filter forbids that (Docker's
     * default profile does without CAP_SYS_PTRACE), it faults the pages in with
     * madvise(MADV_POPULATE_READ) and copies them with pread(2) from /proc/self/mem, which reports
     * a page zapped in between as an error instead of waiting: the page is faulted in again and
     * the copy goes on.
     *
     * <p>Trusts the caller for {@code address}: any readable address of this process can be read.
     *
     * @param address the first byte to read
     * @param dst where the bytes go
     * @throws IllegalArgumentException if {@code dst} is not live off-heap memory
     * @throws UffdException            {@code call()} "process_vm_readv", or the madvise or pread
     *                                  of the fallback: EFAULT / EHWPOISON / EIO for a poisoned or
     *                                  unmapped page
     */
    public static void readThroughKernel(long address, java.lang.foreign.MemorySegment dst) {
        KernelCopy.read(address, dst);
    }

    /**
     * Copies {@code src} to {@code [address, address + src.byteSize())} of this process through
     * the kernel (process_vm_writev): the write twin of {@link #readThroughKernel}. A page that is
     * missing or write-protected under a userfaultfd is handled while the calling thread waits
     * inside the system call, in native code where it does not hold up a JVM safepoint: the way
     * Java code may write memory whose write faults a handler in this JVM serves (a live
     * snapshot's copy-before-write). A poisoned or unmapped page fails with a
     * {@link UffdException}. Allocation-free.
     *
     * <p>Each page is written whole into the page the kernel found mapped there: a hole punched
     * into shared memory meanwhile never leaves a page holding only the tail of the write (as a
     * plain copy through a mapping can, refaulting a fresh page in mid-copy). Where a seccomp
     * filter forbids process_vm_writev (Docker's default profile without CAP_SYS_PTRACE), it
     * faults the pages in with madvise(MADV_POPULATE_WRITE) and writes them with pwrite(2) to
     * /proc/self/mem, which has the same property.
     *
     * <p>Trusts the caller for {@code address}: any writable address of this process can be written.
     *
     * @param address the first byte to write
     * @param src the bytes to write
     * @throws IllegalArgumentException if {@code src} is not live off-heap memory
     * @throws UffdException            {@code call()} "process_vm_writev": EFAULT for a poisoned or
     *                                  unmapped page, EPERM where it is forbidden
     */
    public static void writeThroughKernel(long address, java.lang.foreign.MemorySegment src) {
        KernelCopy.write(address, src);
    }

    /**
     * A segment over {@code length} bytes at {@code address}, always accessible: for memory the
     * caller knows is mapped (for example a registered range after a REMAP moved it). Unchecked:
     * nothing stops an access after the memory is unmapped, which crashes the JVM.
     *
     * @param address the first byte
     * @param length the length in bytes
     * @return an unchecked segment, valid while the memory stays mapped
     */
    public static java.lang.foreign.MemorySegment segmentAt(long address, long length) {
        Native.ensureAvailable();
        if (address <= 0 || length < 0 || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("segmentAt: 0x" + Long.toHexString(address) + " + " + length
                    + " is not a range of the user address space");
        }
        return Native.segment(address, length);
    }

    /** The madvise advice values, read once (never in a JVM without native access). */
    private static final class Advice {
        static final int POPULATE_READ = Abi.MADV_POPULATE_READ;
        static final int POPULATE_WRITE = Abi.MADV_POPULATE_WRITE;
        static final int DONT_NEED = Abi.MADV_DONTNEED;
    }

    private static void checkPageRange(String call, long address, long length) {
        Native.ensureAvailable();
        if (length <= 0 || (address & (PAGE_SIZE - 1)) != 0 || (length & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException(call + ": address 0x" + Long.toHexString(address) + " and length " + length
                    + " must be page aligned (page size " + PAGE_SIZE + ") and the length positive");
        }
        if (address < 0 || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException(call + ": [0x" + Long.toHexString(address) + " + " + length
                    + ") is outside the user address space");
        }
    }

    /** madvise, EINTR retried; a UffdException with a hint on failure. */
    static void madvise(String call, long address, long length, int advice) {
        while (Native.madvise(address, length, advice) != 0) {
            int e = Native.errno();
            if (e != Errno.EINTR) {
                throw new UffdException(call, e, address, length, 0, madviseHint(advice, e));
            }
        }
    }

    private static String madviseHint(int advice, int e) {
        if (advice == Abi.MADV_COLLAPSE) {
            String thp = "/sys/kernel/mm/transparent_hugepage/enabled";
            return e == Errno.EINVAL ? "MADV_COLLAPSE needs Linux 6.1+ (this is " + System.getProperty("os.version")
                    + ") with transparent huge pages (" + thp + ": " + readFirstLine(thp) + "), on memory that may have them"
                    + " (private anonymous or shmem, not hugetlb, not marked MADV_NOHUGEPAGE)"
                    : e == Errno.ENOMEM ? "no huge page could be allocated (memory is short or fragmented), or part of the range is not mapped"
                    : e == Errno.EBUSY ? "the memory cgroup's limit, or a hole the kernel may not fill (a range registered with a userfaultfd)"
                    : e == Errno.EAGAIN ? "a page was busy (locked, or being migrated): try again"
                    : "";
        }
        if (e == Errno.EINVAL && advice == Abi.MADV_PAGEOUT) {
            return "MADV_PAGEOUT needs Linux 5.4+, and refuses locked (mlock), VM_PFNMAP and hugetlb mappings";
        }
        if (e == Errno.EINVAL && (advice == Abi.MADV_HUGEPAGE || advice == Abi.MADV_NOHUGEPAGE)) {
            return "the kernel is built without transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE)";
        }
        if (e == Errno.EINVAL && (advice == Abi.MADV_DONTFORK || advice == Abi.MADV_DOFORK)) {
            return "the range lies in a VM_IO mapping (device memory), whose fork behaviour cannot change";
        }
        boolean populate = advice == Advice.POPULATE_READ || advice == Advice.POPULATE_WRITE;
        if (populate && (e == Errno.EFAULT || e == Errno.EHWPOISON)) {
            return "a page in the range could not be faulted in: it is poisoned (UFFDIO_POISON, a hardware error), "
                    + "beyond the end of a file, or its userfaultfd was opened with Feature.SIGBUS";
        }
        if (e == Errno.ENOMEM) {
            return "part of the range is not mapped (was it unmapped or moved?), or the system is out of memory";
        }
        if (populate && e == Errno.EINVAL) {
            return "MADV_POPULATE_READ/WRITE need Linux 5.14+ (this is " + System.getProperty("os.version")
                    + "), and a mapping that can be populated (not VM_PFNMAP or VM_IO, and writable for WRITE)";
        }
        if (e == Errno.EINVAL) {
            return "the range must be page aligned (huge-page aligned on hugetlb) and not locked (mlock)";
        }
        if (e == Errno.EPERM || e == Errno.EACCES) {
            return "the mapping does not allow this access";
        }
        return "";
    }

    /**
     * Free pages in the pool of {@code size} (0 when the size is not supported).
     *
     * @param size the huge page size
     * @return the free pages
     */
    public static long freeHugePages(HugePageSize size) {
        return readLong(Path.of(size.sysfsDir(), "free_hugepages"));
    }

    /**
     * Pages in the pool of {@code size}.
     *
     * @param size the huge page size
     * @return the pages in the pool, free or in use
     */
    public static long totalHugePages(HugePageSize size) {
        return readLong(Path.of(size.sysfsDir(), "nr_hugepages"));
    }

    /**
     * Grows the pool of {@code size} so that at least {@code free} pages are free (needs root).
     * Returns whether that many are free afterwards (the kernel may find less contiguous memory).
     *
     * @param size the huge page size
     * @param free the free pages wanted
     * @return true when at least {@code free} pages are free afterwards
     * @throws IOException when the pool's sysfs file cannot be read or written
     */
    public static boolean reserveHugePages(HugePageSize size, long free) throws IOException {
        long have = freeHugePages(size);
        if (have >= free) {
            return true;
        }
        Path nr = Path.of(size.sysfsDir(), "nr_hugepages");
        Files.writeString(nr, Long.toString(totalHugePages(size) + free - have));
        return freeHugePages(size) >= free;
    }

    private static String readFirstLine(String file) {
        try {
            return Files.readAllLines(Path.of(file)).getFirst().strip();
        } catch (IOException | RuntimeException e) {
            return "unreadable";
        }
    }

    private static long readLong(Path file) {
        try {
            return Long.parseLong(Files.readString(file).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }
}
