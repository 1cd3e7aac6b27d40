package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A range of virtual memory mapped by uffd4j (mmap), with the madvise and mremap operations that
 * userfaultfd users need. {@link #close()} unmaps it; after that, {@link #segment()} accesses
 * fail with an {@link IllegalStateException} instead of touching unmapped memory.
 *
 * <p>Thread safe: the segment is in a shared arena; madvise and remap may be called from any
 * thread (remap and close race as any two owners of one mapping would: the loser's calls fail).
 * Methods that take raw offsets check them against the mapping; nothing checks what other
 * threads do with the memory meanwhile.
 */
public final class Mapping implements AutoCloseable {

    /** What backs the mapping. */
    public enum Kind {
        /** Private anonymous memory. */
        ANONYMOUS,
        /** A shared mapping of shmem (a memfd). */
        SHMEM,
        /** Private anonymous hugetlb memory. */
        HUGETLB,
        /** A shared mapping of a hugetlbfs memfd. */
        SHARED_HUGETLB,
        /**
         * A private (copy-on-write) mapping of shmem (a memfd, {@link SharedMemory#mapPrivate}):
         * reads see the file's pages, writes make private copies.
         */
        PRIVATE_SHMEM,
        /** A private (copy-on-write) mapping of a hugetlbfs memfd ({@link SharedMemory#mapPrivate}). */
        PRIVATE_HUGETLBFS
    }

    private final Arena arena;
    private final MemorySegment segment;
    private final long address;
    private final long size;
    private final long pageSize;
    private final Kind kind;
    private final AtomicBoolean unmapOnClose = new AtomicBoolean(true);
    private final AtomicBoolean closed = new AtomicBoolean();

    Mapping(long address, long size, long pageSize, Kind kind) {
        this.arena = Arena.ofShared();
        this.address = address;
        this.size = size;
        this.pageSize = pageSize;
        this.kind = kind;
        this.segment = Native.segment(address, size, arena, s -> {
            if (unmapOnClose.get()) {
                Native.munmap(address, size);
            }
        });
    }

    /**
     * The mapped memory; inaccessible once the mapping is closed.
     *
     * @return the segment over the whole mapping
     */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * The start address.
     *
     * @return the first byte's address
     */
    public long address() {
        return address;
    }

    /**
     * The size in bytes.
     *
     * @return the size, whole pages
     */
    public long byteSize() {
        return size;
    }

    /**
     * The page size of the mapping (the huge page size for hugetlb).
     *
     * @return the page size in bytes
     */
    public long pageSize() {
        return pageSize;
    }

    /**
     * What backs the mapping.
     *
     * @return the kind of memory
     */
    public Kind kind() {
        return kind;
    }

    /**
     * Whether the mapping is shared memory (shmem or hugetlbfs file), the kind MINOR mode works on.
     *
     * @return true for shmem or hugetlbfs files
     */
    public boolean isShared() {
        return kind == Kind.SHMEM || kind == Kind.SHARED_HUGETLB;
    }

    /**
     * Whether it is backed by huge pages.
     *
     * @return true for huge pages
     */
    public boolean isHugetlb() {
        return kind == Kind.HUGETLB || kind == Kind.SHARED_HUGETLB || kind == Kind.PRIVATE_HUGETLBFS;
    }

    /**
     * Whether it is still mapped.
     *
     * @return false once closed or remapped
     */
    public boolean isOpen() {
        return arena.scope().isAlive();
    }

    /**
     * {@code [offset, offset + length)} of this mapping as a segment.
     *
     * @param offset the first byte, from the mapping's start
     * @param length the length in bytes
     * @return the slice
     */
    public MemorySegment slice(long offset, long length) {
        return segment.asSlice(offset, length);
    }

    /**
     * madvise(MADV_DONTNEED): drops the pages of the range. Private memory reads back as missing
     * (a registered range reports MISSING faults again, after a REMOVE event); shared memory keeps
     * its contents in the page cache (a MINOR-registered range reports minor faults).
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void dontNeed(long offset, long length) {
        advise("madvise(MADV_DONTNEED)", offset, length, Abi.MADV_DONTNEED);
    }

    /**
     * mincore(2): which pages of the mapping are resident, one bit per page. For shared memory
     * that is the page cache: a page written through any mapping of the same memfd counts, even
     * if this mapping never touched it.
     *
     * @return bit {@code i} set when page {@code i} is resident
     */
    public BitSet residentPages() {
        int pages = (int) (byteSize() / pageSize());
        long basePages = byteSize() / Memory.pageSize();
        BitSet resident = new BitSet(pages);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(basePages);
            if (Native.mincore(address(), byteSize(), vec) != 0) {
                throw Failures.of("mincore", Native.errno(), address(), byteSize());
            }
            long perPage = pageSize() / Memory.pageSize();
            for (int p = 0; p < pages; p++) {
                if ((vec.get(ValueLayout.JAVA_BYTE, p * perPage) & 1) != 0) {
                    resident.set(p);
                }
            }
        }
        return resident;
    }

    /**
     * madvise(MADV_REMOVE): frees the range and its backing store (shmem, hugetlbfs).
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void remove(long offset, long length) {
        advise("madvise(MADV_REMOVE)", offset, length, Abi.MADV_REMOVE);
    }

    /**
     * madvise(MADV_POPULATE_READ): faults the range in for reading (Linux 5.14+).
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void populateRead(long offset, long length) {
        advise("madvise(MADV_POPULATE_READ)", offset, length, Abi.MADV_POPULATE_READ);
    }

    /**
     * madvise(MADV_POPULATE_WRITE): faults the range in for writing (Linux 5.14+).
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     */
    public void populateWrite(long offset, long length) {
        advise("madvise(MADV_POPULATE_WRITE)", offset, length, Abi.MADV_POPULATE_WRITE);
    }

    /**
     * madvise(MADV_PAGEOUT) (Linux 5.4+): asks the kernel to reclaim the pages of the range now, as
     * memory pressure would: anonymous and shmem pages go to swap, clean file pages leave the page
     * cache, dirty file pages are written back first. It is advice: a page that cannot be
     * reclaimed (no swap is configured, another process maps it too, it is pinned, or a file page
     * whose buffers the file system still holds, as ext4 does for a while after a buffered write
     * even once it is synced) stays resident without an error; {@link #residentPages()} shows which
     * left. A private page that went to
     * swap is not missing for a userfaultfd: touching it swaps it back in and reports no fault.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_PAGEOUT)": EINVAL on kernels before 5.4
     *                       and on locked (mlock), VM_PFNMAP or hugetlb mappings; ENOMEM when part
     *                       of the range is not mapped
     */
    public void pageOut(long offset, long length) {
        advise("madvise(MADV_PAGEOUT)", offset, length, Abi.MADV_PAGEOUT);
    }

    /**
     * madvise(MADV_HUGEPAGE): marks the range as wanting transparent huge pages (VM_HUGEPAGE, the
     * "hg" flag in /proc/self/smaps), which the "madvise" setting of
     * /sys/kernel/mm/transparent_hugepage/enabled requires. A later fault in a huge-page-aligned
     * block lying wholly inside the mapping may then be served with one huge page, and khugepaged
     * may collapse the block later. Applies to private anonymous memory, and to shmem when
     * /sys/kernel/mm/transparent_hugepage/shmem_enabled says "advise"; a mapping that is not
     * huge-page aligned gets no huge page at its ends ({@link Memory#anonymousAligned}). Clears
     * {@link #noHugePage}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_HUGEPAGE)": EINVAL when the kernel is
     *                       built without transparent huge pages; ENOMEM when part of the range is
     *                       not mapped
     */
    public void hugePage(long offset, long length) {
        advise("madvise(MADV_HUGEPAGE)", offset, length, Abi.MADV_HUGEPAGE);
    }

    /**
     * madvise(MADV_NOHUGEPAGE): the range never gets transparent huge pages (VM_NOHUGEPAGE, the
     * "nh" flag in /proc/self/smaps), whatever /sys/kernel/mm/transparent_hugepage/enabled says:
     * faults map base pages, khugepaged leaves it alone and {@link #collapse} fails with EINVAL.
     * Huge pages already there stay. Clears {@link #hugePage}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_NOHUGEPAGE)": EINVAL when the kernel is
     *                       built without transparent huge pages; ENOMEM when part of the range is
     *                       not mapped
     */
    public void noHugePage(long offset, long length) {
        advise("madvise(MADV_NOHUGEPAGE)", offset, length, Abi.MADV_NOHUGEPAGE);
    }

    /**
     * madvise(MADV_DONTFORK): a child made by fork(2) does not inherit the range (VM_DONTCOPY, the
     * "dc" flag in /proc/self/smaps): nothing is mapped there in the child, so no copy-on-write
     * sharing, and a userfaultfd's {@link Feature#EVENT_FORK} child descriptor does not cover it.
     * Undone by {@link #doFork}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_DONTFORK)": EINVAL on VM_IO mappings;
     *                       ENOMEM when part of the range is not mapped
     */
    public void dontFork(long offset, long length) {
        advise("madvise(MADV_DONTFORK)", offset, length, Abi.MADV_DONTFORK);
    }

    /**
     * madvise(MADV_DOFORK): undoes {@link #dontFork}: children made by fork(2) inherit the range
     * again (the default).
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_DOFORK)": EINVAL on VM_IO mappings;
     *                       ENOMEM when part of the range is not mapped
     */
    public void doFork(long offset, long length) {
        advise("madvise(MADV_DOFORK)", offset, length, Abi.MADV_DOFORK);
    }

    /**
     * A batch of {@link #dontNeed} calls on runs of this mapping, made with few system calls
     * ({@link MadviseBatch}): for dropping many scattered pages at once.
     *
     * @return the batch; {@link MadviseBatch#close} makes the calls still pending
     */
    public MadviseBatch dontNeedBatch() {
        return new MadviseBatch(this, "madvise(MADV_DONTNEED)", Abi.MADV_DONTNEED);
    }

    /**
     * A batch of {@link #remove} calls (hole punches of shared memory) on runs of this mapping,
     * made with few system calls ({@link MadviseBatch}).
     *
     * @return the batch; {@link MadviseBatch#close} makes the calls still pending
     */
    public MadviseBatch removeBatch() {
        return new MadviseBatch(this, "madvise(MADV_REMOVE)", Abi.MADV_REMOVE);
    }

    /**
     * madvise(MADV_RANDOM): the range will be read in random order (VM_RAND_READ, the "rr" flag
     * in /proc/self/smaps): a fault on a file or shared mapping reads just its page from the file,
     * with no read-around. What a {@link io.github.uffd4j.handler.LazySegment} does with a
     * fault-around of one page. Undone by {@link #normalAccess}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_RANDOM)": ENOMEM when part of the range
     *                       is not mapped
     */
    public void randomAccess(long offset, long length) {
        advise("madvise(MADV_RANDOM)", offset, length, Abi.MADV_RANDOM);
    }

    /**
     * madvise(MADV_SEQUENTIAL): the range will be read once, in order (VM_SEQ_READ, the "sr" flag
     * in /proc/self/smaps): faults read ahead aggressively and pages behind the reader are
     * reclaimed early. Undone by {@link #normalAccess}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_SEQUENTIAL)": ENOMEM when part of the
     *                       range is not mapped
     */
    public void sequentialAccess(long offset, long length) {
        advise("madvise(MADV_SEQUENTIAL)", offset, length, Abi.MADV_SEQUENTIAL);
    }

    /**
     * madvise(MADV_NORMAL): the default read-around again, undoing {@link #randomAccess} and
     * {@link #sequentialAccess}.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_NORMAL)": ENOMEM when part of the range
     *                       is not mapped
     */
    public void normalAccess(long offset, long length) {
        advise("madvise(MADV_NORMAL)", offset, length, Abi.MADV_NORMAL);
    }

    /**
     * madvise(MADV_COLLAPSE) (Linux 6.1+): synchronously replaces the base pages of each
     * huge-page-aligned block lying wholly inside the range with one transparent huge page,
     * allocating it in the calling thread and filling the block's holes with zeros, whatever the
     * THP sysfs settings say (short of {@link #noHugePage} or prctl(PR_SET_THP_DISABLE)). A range
     * holding no whole aligned block succeeds without doing anything: map with
     * {@link Memory#anonymousAligned} to have one. Private anonymous memory, and shmem.
     *
     * @param offset the first byte, page aligned
     * @param length the length in bytes, whole pages
     * @throws UffdException {@code call()} "madvise(MADV_COLLAPSE)": EINVAL on kernels before 6.1
     *                       or without transparent huge pages, and on mappings that cannot have
     *                       them (hugetlb, {@link #noHugePage}, THP disabled for the process);
     *                       ENOMEM when no huge page could be allocated; EBUSY when the memory
     *                       cgroup would exceed its limit, and when the block has missing pages
     *                       in a range registered with a userfaultfd (the kernel leaves those to
     *                       the handler instead of filling them); EAGAIN when a page was busy (retry);
     *                       ENOMEM also when part of the range is not mapped
     */
    public void collapse(long offset, long length) {
        advise("madvise(MADV_COLLAPSE)", offset, length, Abi.MADV_COLLAPSE);
    }

    private void advise(String call, long offset, long length, int advice) {
        checkSubrange(call, offset, length);
        Memory.madvise(call, address + offset, length, advice);
    }

    void checkSubrange(String call, long offset, long length) {
        if (!isOpen()) {
            throw new IllegalStateException(call + ": the mapping is closed");
        }
        if (offset < 0 || length <= 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(call + ": [" + offset + ", " + (offset + length)
                    + ") is outside the mapping of " + size + " bytes");
        }
        if (offset % pageSize != 0 || length % pageSize != 0) {
            throw new IllegalArgumentException(call + ": offset " + offset + " and length " + length
                    + " must be multiples of the page size " + pageSize);
        }
    }

    /**
     * mremap(MREMAP_MAYMOVE): moves and/or resizes the mapping. This mapping is closed (its
     * segment becomes inaccessible) and the returned one owns the memory. A registered range
     * moves with it (a REMAP event tells the userfaultfd, with {@link Feature#EVENT_REMAP}).
     *
     * @param newSize the new size in bytes, whole pages
     * @return the mapping that now owns the memory
     */
    public Mapping remap(long newSize) {
        return remap(newSize, 0);
    }

    /**
     * Like {@link #remap(long)}, to the fixed address {@code newAddress} (MREMAP_FIXED) when not 0.
     * The target {@code [newAddress, newAddress + newSize)} must be free: it is first reserved
     * with mmap(MAP_FIXED_NOREPLACE), which fails with EEXIST when any mapping (another
     * {@code Mapping}, the Java heap, a library) lies there, and only then replaced by the moved
     * pages. So this never maps over memory someone else uses.
     *
     * @param newSize the new size in bytes, whole pages
     * @param newAddress the page-aligned address to move to, or 0 to let the kernel choose
     * @return the mapping that now owns the memory
     * @throws UffdException {@code call()} "mmap(MAP_FIXED_NOREPLACE)" with EEXIST when the target
     *                       is not free; "mremap" when the move fails
     */
    public Mapping remap(long newSize, long newAddress) {
        if (newSize <= 0 || newSize % pageSize != 0) {
            throw new IllegalArgumentException("mremap: new size " + newSize + " must be a positive multiple of " + pageSize);
        }
        if (newAddress != 0 && (newAddress < 0 || newAddress % pageSize != 0 || newAddress > Long.MAX_VALUE - newSize)) {
            throw new IllegalArgumentException("mremap: new address 0x" + Long.toHexString(newAddress)
                    + " must be a multiple of " + pageSize + " in the user address space");
        }
        if (!isOpen()) {
            throw new IllegalStateException("mremap: the mapping is closed");
        }
        int flags = Abi.MREMAP_MAYMOVE;
        if (newAddress != 0) {
            reserveFree(newAddress, newSize);
            flags |= Abi.MREMAP_FIXED;
        }
        long moved = Native.mremap(address, size, newSize, flags, newAddress);
        if (moved == -1) {
            int e = Native.errno();
            if (newAddress != 0) {
                Native.munmap(newAddress, newSize); // our reservation
            }
            throw Failures.of("mremap", e, address, size);
        }
        unmapOnClose.set(false);
        closed.set(true);
        arena.close();
        return new Mapping(moved, newSize, pageSize, kind);
    }

    /** Maps PROT_NONE over {@code [target, target + length)} if and only if nothing is mapped there. */
    private static void reserveFree(long target, long length) {
        Memory.mapAt(target, length, Abi.PROT_NONE, Abi.MAP_PRIVATE | Abi.MAP_ANONYMOUS | Abi.MAP_NORESERVE,
                "the remap target is not free: another mapping lies in it; choose a free range (or remap without an address)");
    }

    /**
     * Unmaps the memory. Waits for threads accessing the segment through FFM to finish their
     * access (a thread blocked in a userfaultfd fault on it delays this until the fault is served).
     * Idempotent: closing again (or after {@link #remap}) does nothing.
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "Mapping[" + kind + " 0x" + Long.toHexString(address) + " +" + size + (isOpen() ? "" : ", closed") + "]";
    }
}
