package io.github.uffd4j.handler;

import io.github.uffd4j.UffdEvent;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;

/**
 * One page fault, as a {@link FaultHandler} sees it, with the actions that resolve it. Each
 * action works on the faulting page, follows the kernel's rules (EEXIST is answered with a wake)
 * and wakes the faulting thread. One object per handler thread, reused for every fault: use it
 * only inside {@link FaultHandler#onFault} and do not keep it. Not thread safe.
 */
public final class Fault {

    private final PageInstaller installer;
    private final FailureOutcomes failures;
    private final Staging staging;
    private final Userfaultfd uffd;
    private Region region;
    private long address;
    private long flags;
    private int threadId;
    private int page;
    private long epoch;
    private boolean resolved;
    private boolean stagingZeroed;

    Fault(PageInstaller installer, FailureOutcomes failures, Staging staging, Userfaultfd uffd) {
        this.installer = installer;
        this.failures = failures;
        this.staging = staging;
        this.uffd = uffd;
    }

    void reset(Region region, long address, long flags, int threadId) {
        this.region = region;
        this.address = address;
        this.flags = flags;
        this.threadId = threadId;
        this.page = region.pageOf(address);
        this.epoch = region.pages().zapEpoch();
        this.resolved = false;
        this.stagingZeroed = false;
    }

    boolean resolved() {
        return resolved;
    }

    /**
     * The region the fault is in.
     *
     * @return the region
     */
    public Region region() {
        return region;
    }

    /**
     * The faulting address as the kernel reported it.
     *
     * @return the faulting address
     */
    public long address() {
        return address;
    }

    /**
     * Offset of the faulting page in the region.
     *
     * @return the page's offset, page aligned
     */
    public long offset() {
        return (long) page << region.pageShift();
    }

    /**
     * Address of the faulting page.
     *
     * @return the page's address
     */
    public long pageAddress() {
        return region.pageAddress(page);
    }

    /**
     * The faulting thread's id (0 if the kernel does not report it).
     *
     * @return the kernel thread id, or 0
     */
    public int threadId() {
        return threadId;
    }

    /**
     * Whether the access was a write.
     *
     * @return true for a write
     */
    public boolean isWrite() {
        return (flags & UffdEvent.FLAG_WRITE) != 0;
    }

    /**
     * Whether it is a write-protect fault (the page is present and protected).
     *
     * @return true for a write-protect fault
     */
    public boolean isWriteProtect() {
        return (flags & UffdEvent.FLAG_WP) != 0;
    }

    /**
     * Whether it is a minor fault (the page is in the page cache but not mapped here).
     *
     * @return true for a minor fault
     */
    public boolean isMinor() {
        return (flags & UffdEvent.FLAG_MINOR) != 0;
    }

    /**
     * A page-sized buffer owned by this handler thread, to build contents in before {@link #copy}:
     * zeroed on the first call for each fault, the same buffer on later calls for that fault.
     *
     * @return the staging buffer, one page
     */
    public MemorySegment staging() {
        if (!stagingZeroed) {
            stagingZeroed = true;
            return staging.zeroed(1, region.pageSize());
        }
        return staging.slice(1, region.pageSize());
    }

    /**
     * UFFDIO_COPY: the page gets the first page-size bytes of {@code src} (off-heap, alive).
     *
     * @param src at least one page of off-heap memory
     */
    public void copy(MemorySegment src) {
        if (!src.isNative() || !src.scope().isAlive()) {
            throw new IllegalArgumentException("copy: the source must be live off-heap memory, not " + src);
        }
        if (src.byteSize() < region.pageSize()) {
            throw new IllegalArgumentException("copy: the source has " + src.byteSize() + " bytes, the page " + region.pageSize());
        }
        installer.copyPage(region, page, src);
        mapped();
    }

    /** Zeros: UFFDIO_ZEROPAGE (or a copy of zeros on hugetlb). */
    public void zero() {
        installer.zero(region, page);
        mapped();
    }

    /** UFFDIO_CONTINUE: maps the page already in the page cache (minor faults). */
    public void continueMinor() {
        installer.continuePage(region, page);
        mapped();
    }

    /** UFFDIO_WRITEPROTECT without the WP bit: lets the write go ahead. */
    public void unprotect() {
        installer.unprotect(region, page);
        resolved = true;
    }

    /** UFFDIO_POISON: the faulting thread gets an error (SIGBUS, or a {@link PageLoadException} in accessors). */
    public void poison() {
        failures.poison(region, page);
        resolved = true;
    }

    /** UFFDIO_WAKE: wakes the faulting thread without mapping anything (it faults again unless the page appeared). */
    public void wake() {
        installer.wake(pageAddress(), region.pageSize());
        resolved = true;
    }

    /**
     * The service's userfaultfd, for ioctls the actions above do not cover (resolve the fault
     * before returning). The service owns it: never close it, read from it or unregister through it.
     *
     * @return the userfaultfd
     */
    public Userfaultfd userfaultfd() {
        return uffd;
    }

    /** Marks the fault resolved by the caller's own ioctls. */
    public void markResolved() {
        resolved = true;
    }

    /** The page is mapped: recorded present unless a zap came since the fault was read. */
    private void mapped() {
        installer.markPresent(region, page, page + 1, epoch);
        resolved = true;
    }

    @Override
    public String toString() {
        return "Fault[0x" + Long.toHexString(address) + (isWrite() ? " write" : " read") + (isWriteProtect() ? " wp" : "")
                + (isMinor() ? " minor" : "") + " tid " + threadId + " in " + region + "]";
    }
}
