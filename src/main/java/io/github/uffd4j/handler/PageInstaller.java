package io.github.uffd4j.handler;

import io.github.uffd4j.AddressSpaceChangedException;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PageExistsException;
import io.github.uffd4j.RangeNotRegisteredException;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;

/**
 * Where the kernel's rules for resolving faults live, used by the automatic fault path, the
 * background filler, {@link Fault}'s actions and the close sequence's wakes. (The close
 * sequence's UFFDIO_POISON of unloaded runs applies the same EEXIST and EAGAIN rules in a loop of
 * its own, {@code Retirement.poisonRun}, with its own deadline and page states.)
 * <ul>
 *   <li>EEXIST (a page of the run is mapped already): the kernel did not wake its waiters, so
 *   wake that page, and go on with the rest of the run;</li>
 *   <li>EAGAIN (a REMOVE, UNMAP or REMAP event is pending): take the part done, read and apply the
 *   pending events, retry the rest (pages an UNMAP took are skipped); give up after 10 s;</li>
 *   <li>EFAULT from UFFDIO_CONTINUE (the page-cache page was punched out after it was written:
 *   an MADV_REMOVE raced the load): report {@link Result#ZAPPED} so the caller fills again;</li>
 *   <li>ENOENT / ESRCH, or a range no longer registered: the memory is gone, nobody waits there.</li>
 * </ul>
 * Pages are counted loaded before the ioctl that wakes their faulting threads, and recorded
 * present (inside the {@link ZapGate}, if no zap came since they were claimed) right after it.
 * Thread safe; allocation-free on success.
 */
final class PageInstaller {

    private static final long EAGAIN_GIVE_UP_NANOS = 10_000_000_000L;

    /** How an install ended. */
    enum Result {
        /** Every page of the run is mapped (by this call or by someone else). */
        DONE,
        /** The memory is gone (unmapped or unregistered); its pages were marked so. */
        GONE,
        /** The caller's thread cannot read events and meets EAGAIN: the pages were given back. */
        STEPPED_BACK,
        /** UFFDIO_CONTINUE found the page-cache pages gone: fill again. */
        ZAPPED,
        /** The kernel refused in a way retrying cannot fix: see {@link #lastError()}. */
        FAILED
    }

    /** A thread's way to read and apply the events pending on the userfaultfd. */
    interface EventPump {
        /** Reads what is pending without waiting, applies the events, keeps the faults; false if nothing was read. */
        boolean pump();
    }

    private final Userfaultfd uffd;
    private final Counters counters;
    private volatile MemorySegment zeros;
    private final ThreadLocal<Throwable> lastError = new ThreadLocal<>();

    PageInstaller(Userfaultfd uffd, Counters counters) {
        this.uffd = uffd;
        this.counters = counters;
    }

    /** The exception behind the calling thread's last {@link Result#FAILED}. */
    Throwable lastError() {
        return lastError.get();
    }

    /**
     * Maps pages [s, e) of {@code r}, claimed at zap epoch {@code epoch}: UFFDIO_COPY from
     * {@code src} (the contents of page s), or UFFDIO_CONTINUE when {@code src} is 0 (MINOR
     * regions, contents already in the page cache). When {@code src} is the start of a loader's
     * {@code staging} buffer (null otherwise: the caller's memory is never taken), every whole
     * huge-page block of the run that lies aligned in both is moved instead (UFFDIO_MOVE, see
     * {@link HugeUnits}); the rest is copied. A region whose memory the kernel will not move
     * pages into (EINVAL, EBUSY, ...) is copied into from then on.
     */
    Result install(Region r, int s, int e, long src, Staging staging, boolean urgent, long epoch, EventPump events) {
        return install(r, s, e, src, staging, urgent, urgent, epoch, events);
    }

    /**
     * {@link #install(Region, int, int, long, Staging, boolean, long, EventPump)} with the pages
     * counted as the fault path's ({@code faultPath}: urgent loads, and readahead of a reader) or
     * as background pages.
     */
    Result install(Region r, int s, int e, long src, Staging staging, boolean urgent, boolean faultPath, long epoch,
                   EventPump events) {
        long deadline = 0;
        int next = s;
        while (next < e) {
            int upTo = e;
            boolean move = false;
            int unit = staging != null ? r.moveUnitPages() : 0;
            if (unit != 0) {
                int block = r.nextMoveUnit(next, unit);
                boolean srcAligned = ((src + ((long) (block - s) << r.pageShift())) & (((long) unit << r.pageShift()) - 1)) == 0;
                if (srcAligned && (long) block + unit <= e) {
                    if (block == next) {
                        move = true;
                        upTo = next + (e - next) / unit * unit;
                    } else {
                        upTo = block; // copy up to the block, move it next round
                    }
                }
            }
            long dst = r.pageAddress(next);
            long from = src + ((long) (next - s) << r.pageShift());
            long len = (long) (upTo - next) << r.pageShift();
            counters.loaded(upTo - next, r.pageSize(), faultPath);
            try {
                if (src == 0) {
                    uffd.continueRange(dst, len, 0);
                } else if (move) {
                    uffd.move(dst, from, len, 0);
                    staging.moved(from - src, len);
                    counters.moved.add(upTo - next);
                } else {
                    uffd.copy(dst, from, len, 0);
                }
                markPresent(r, next, upTo, epoch);
                next = upTo;
            } catch (PageExistsException x) {
                counters.eexist.increment();
                int done = next + pagesOf(r, x.bytesDone());
                uncount(r, upTo - done, faultPath);
                markPresent(r, next, done, epoch);
                if (move) {
                    counters.moved.add(done - next);
                }
                if (done < upTo) {
                    // someone else mapped this page: it is there, but its waiters were not woken
                    markPresent(r, done, done + 1, epoch);
                    wake(r.pageAddress(done), r.pageSize());
                }
                next = done + 1;
            } catch (AddressSpaceChangedException x) {
                counters.eagain.increment();
                int done = next + pagesOf(r, x.bytesDone());
                uncount(r, upTo - done, faultPath);
                markPresent(r, next, done, epoch);
                if (move) {
                    counters.moved.add(done - next);
                }
                next = done;
                if (deadline == 0) {
                    deadline = System.nanoTime() + EAGAIN_GIVE_UP_NANOS;
                } else if (System.nanoTime() > deadline) {
                    lastError.set(x);
                    return Result.FAILED;
                }
                if (events == null || !events.pump()) {
                    if (!urgent) {
                        // the filler cannot read events: give the pages back; a handler thread reads them
                        release(r, next, e);
                        LockSupport.parkNanos(1_000_000);
                        return Result.STEPPED_BACK;
                    }
                    LockSupport.parkNanos(50_000);
                }
                while (next < e && r.pages().state(next) == PageTable.GONE) {
                    next++;
                }
            } catch (RangeNotRegisteredException x) {
                uncount(r, upTo - next, faultPath);
                r.pages().gone(next, e);
                return Result.GONE;
            } catch (UffdException x) {
                uncount(r, upTo - next, faultPath);
                if (isGone(x)) {
                    r.pages().gone(next, e);
                    return Result.GONE;
                }
                if (move) {
                    // not memory the kernel moves pages into (not private anonymous, a page shared after a
                    // fork, ...): what was moved stays, the rest is copied, now and from now on
                    int done = next + pagesOf(r, Math.max(0, x.bytesDone()));
                    counters.loaded(done - next, r.pageSize(), faultPath);
                    counters.moved.add(done - next);
                    markPresent(r, next, done, epoch);
                    next = done;
                    r.noMoves();
                    continue;
                }
                if (src == 0 && "EFAULT".equals(x.errnoName())) {
                    return Result.ZAPPED;
                }
                lastError.set(x);
                return Result.FAILED;
            }
        }
        return Result.DONE;
    }

    private static int pagesOf(Region r, long bytes) {
        return (int) (bytes >>> r.pageShift());
    }

    private void uncount(Region r, int pages, boolean faultPath) {
        if (pages > 0) {
            counters.loaded(-pages, r.pageSize(), faultPath);
        }
    }

    /** Records pages [s, e) present ({@link Region#markPresent}). */
    void markPresent(Region r, int s, int e, long epoch) {
        if (s < e) {
            r.markPresent(s, e, epoch);
        }
    }

    /**
     * A block [s, e) failed for the page {@code p} a thread waits for: when it was a block, its
     * pages are marked to be loaded alone from now on (which of them failed is not known); every
     * page but {@code p} is given back. Returns whether it was a block.
     */
    boolean keepOnly(Region r, int s, int e, int p) {
        boolean block = e - s > 1;
        if (block) {
            r.pages().markSuspect(s, e);
        }
        if (s < p) {
            release(r, s, p);
        }
        if (p + 1 < e) {
            release(r, p + 1, e);
        }
        return block;
    }

    /** Gives pages [s, e) back (claimed, untouched) and wakes whoever waits there: they fault again. */
    void release(Region r, int s, int e) {
        for (int p = s; p < e; p++) {
            r.pages().release(p);
        }
        r.pages().takeWaiters(s, e); // the wake below is theirs
        wake(r.pageAddress(s), (long) (e - s) << r.pageShift());
    }

    /**
     * Wakes pages [s, e) of {@code r} if a fault on one of them was left to their load
     * ({@link PageTable#awaitLoad}): it may have come after the install's wake (the page punched
     * out in between); woken, it faults again and is served by what the state says now. For
     * whoever ends a load without {@link #release}, which wakes anyway.
     */
    void wakeLeftToLoad(Region r, int s, int e) {
        if (r.pages().takeWaiters(s, e)) {
            wake(r.pageAddress(s), (long) (e - s) << r.pageShift());
        }
    }

    /** UFFDIO_WAKE, ignoring a range that is gone (nobody can wait there). */
    void wake(long address, long length) {
        try {
            uffd.wake(address, length);
        } catch (UffdException | RangeNotRegisteredException gone) {
            // nobody can be waiting on memory that is no longer registered
        }
    }

    /** Maps zeros at page {@code p}: ZEROPAGE where the memory allows it, else a copy of zeros. EEXIST wakes. */
    void zero(Region r, int p) {
        long addr = r.pageAddress(p);
        try {
            if (r.alias() != null) {
                r.pageCacheLock().lock();
                try {
                    r.alias().asSlice((long) p << r.pageShift(), r.pageSize()).fill((byte) 0);
                    uffd.continueRange(addr, r.pageSize(), 0);
                } finally {
                    r.pageCacheLock().unlock();
                }
            } else if (r.pageSize() == Memory.pageSize()) {
                uffd.zeropage(addr, r.pageSize(), 0);
            } else {
                uffd.copy(addr, zeros(r.pageSize()).address(), r.pageSize(), 0);
            }
        } catch (PageExistsException present) {
            counters.eexist.increment();
            wake(addr, r.pageSize());
        }
    }

    /** UFFDIO_POISON on page {@code p}; false if the page turned out mapped (it was woken instead). */
    boolean poison(Region r, int p) {
        try {
            uffd.poison(r.pageAddress(p), r.pageSize(), 0);
            return true;
        } catch (PageExistsException present) {
            counters.eexist.increment();
            wake(r.pageAddress(p), r.pageSize());
            return false;
        }
    }

    /** UFFDIO_COPY of one page from {@code src}, EEXIST answered with a wake. */
    void copyPage(Region r, int p, MemorySegment src) {
        try {
            uffd.copy(r.pageAddress(p), src.address(), r.pageSize(), 0);
        } catch (PageExistsException e) {
            counters.eexist.increment();
            wake(r.pageAddress(p), r.pageSize());
        }
    }

    /** UFFDIO_CONTINUE of one page, EEXIST answered with a wake. */
    void continuePage(Region r, int p) {
        try {
            uffd.continueRange(r.pageAddress(p), r.pageSize(), 0);
        } catch (PageExistsException e) {
            counters.eexist.increment();
            wake(r.pageAddress(p), r.pageSize());
        }
    }

    /** Lifts write protection from page {@code p} and wakes the writer. */
    void unprotect(Region r, int p) {
        uffd.writeProtect(r.pageAddress(p), r.pageSize(), false, 0);
    }

    static boolean isGone(UffdException x) {
        String e = x.errnoName();
        return "ENOENT".equals(e) || "ESRCH".equals(e);
    }

    private MemorySegment zeros(long bytes) {
        MemorySegment z = zeros;
        if (z == null || z.byteSize() < bytes) {
            synchronized (this) {
                z = zeros;
                if (z == null || z.byteSize() < bytes) {
                    z = Arena.ofAuto().allocate(bytes, Memory.pageSize());
                    zeros = z;
                }
            }
        }
        return z;
    }
}
