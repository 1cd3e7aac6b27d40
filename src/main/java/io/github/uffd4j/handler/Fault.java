package io.github.uffd4j.handler;

import io.github.uffd4j.PageExistsException;
import io.github.uffd4j.UffdEvent;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;

/**
 * One page fault, as a {@link FaultHandler} sees it, with the actions that resolve it. Each
 * action works on the faulting page and wakes the faulting thread. One object per handler
 * thread, reused for every fault: do not keep it.
 */
public final class Fault {

    private final FaultService service;
    private final java.util.function.LongFunction<MemorySegment> staging;
    private Region region;
    private long address;
    private long flags;
    private int threadId;
    private int page;
    private boolean resolved;

    Fault(FaultService service, java.util.function.LongFunction<MemorySegment> staging) {
        this.service = service;
        this.staging = staging;
    }

    void reset(Region region, long address, long flags, int threadId) {
        this.region = region;
        this.address = address;
        this.flags = flags;
        this.threadId = threadId;
        this.page = region.pageOf(address);
        this.resolved = false;
    }

    boolean resolved() {
        return resolved;
    }

    /** The region the fault is in. */
    public Region region() {
        return region;
    }

    /** The faulting address as the kernel reported it. */
    public long address() {
        return address;
    }

    /** Offset of the faulting page in the region. */
    public long offset() {
        return (long) page * region.pageSize;
    }

    /** Address of the faulting page. */
    public long pageAddress() {
        return region.pageAddress(page);
    }

    /** The faulting thread's id (0 if the kernel does not report it). */
    public int threadId() {
        return threadId;
    }

    /** Whether the access was a write. */
    public boolean isWrite() {
        return (flags & UffdEvent.FLAG_WRITE) != 0;
    }

    /** Whether it is a write-protect fault (the page is present and protected). */
    public boolean isWriteProtect() {
        return (flags & UffdEvent.FLAG_WP) != 0;
    }

    /** Whether it is a minor fault (the page is in the page cache but not mapped here). */
    public boolean isMinor() {
        return (flags & UffdEvent.FLAG_MINOR) != 0;
    }

    /** A page-sized buffer owned by this handler thread, to build contents in before {@link #copy}. */
    public MemorySegment staging() {
        return staging.apply(region.pageSize).asSlice(0, region.pageSize);
    }

    /** UFFDIO_COPY: the page gets the first page-size bytes of {@code src} (off-heap). */
    public void copy(MemorySegment src) {
        if (src.byteSize() < region.pageSize) {
            throw new IllegalArgumentException("copy: source has " + src.byteSize() + " bytes, the page " + region.pageSize);
        }
        try {
            service.uffd().copy(pageAddress(), src.address(), region.pageSize, 0);
        } catch (PageExistsException e) {
            service.uffd().wake(pageAddress(), region.pageSize);
            service.counters.eexist.increment();
        }
        done(Region.PRESENT);
    }

    /** Zeros: UFFDIO_ZEROPAGE (or a copy of zeros on hugetlb). */
    public void zero() {
        service.zeroFill(region, page);
        done(Region.PRESENT);
    }

    /** UFFDIO_CONTINUE: maps the page already in the page cache (minor faults). */
    public void continueMinor() {
        try {
            service.uffd().continueRange(pageAddress(), region.pageSize, 0);
        } catch (PageExistsException e) {
            service.uffd().wake(pageAddress(), region.pageSize);
            service.counters.eexist.increment();
        }
        done(Region.PRESENT);
    }

    /** UFFDIO_WRITEPROTECT without the WP bit: lets the write go ahead. */
    public void unprotect() {
        service.uffd().writeProtect(pageAddress(), region.pageSize, false, 0);
        resolved = true;
    }

    /** UFFDIO_POISON: the faulting thread gets an error (SIGBUS) instead of a page. */
    public void poison() {
        service.poisonPage(region, page);
        done(Region.FAILED);
    }

    /** UFFDIO_WAKE: wakes the faulting thread without mapping anything (it faults again unless the page appeared). */
    public void wake() {
        service.uffd().wake(pageAddress(), region.pageSize);
        resolved = true;
    }

    /** The userfaultfd, for anything the actions above do not cover (resolve the fault before returning). */
    public Userfaultfd userfaultfd() {
        return service.uffd();
    }

    /** Marks the fault resolved by the caller's own ioctls. */
    public void markResolved() {
        resolved = true;
    }

    private void done(byte state) {
        region.force(page, state);
        resolved = true;
    }

    @Override
    public String toString() {
        return "Fault[0x" + Long.toHexString(address) + (isWrite() ? " write" : " read") + (isWriteProtect() ? " wp" : "")
                + (isMinor() ? " minor" : "") + " tid " + threadId + " in " + region + "]";
    }
}
