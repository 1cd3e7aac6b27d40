package io.github.uffd4j.handler;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The regions a service serves, and the only code that moves or drops them: finds the region of
 * a faulting address, and applies the REMOVE, UNMAP and REMAP events to the regions they touch.
 * Thread safe: readers see an immutable array; changes are serialized.
 */
final class RegionTable {

    private static final System.Logger LOG = System.getLogger(RegionTable.class.getName());

    private volatile Region[] regions = new Region[0];
    /**
     * Held by a thread from its read of the userfaultfd until it has applied the events read, so
     * that events reach the table in the order the kernel queued them although several handler
     * threads read (see {@link EventApplier}).
     */
    private final ReentrantLock eventOrder = new ReentrantLock();

    ReentrantLock eventOrder() {
        return eventOrder;
    }

    Region[] all() {
        return regions;
    }

    List<Region> list() {
        return List.of(regions);
    }

    int size() {
        return regions.length;
    }

    /** The region holding {@code address}, or null. Allocates nothing. */
    Region find(long address) {
        for (Region r : regions) {
            if (r.contains(address)) {
                return r;
            }
        }
        return null;
    }

    /** Adds {@code r}; throws if it overlaps a region already served. */
    synchronized void add(Region r) {
        for (Region o : regions) {
            if (r.address() < o.address() + o.byteSize() && o.address() < r.address() + r.byteSize()) {
                throw new IllegalArgumentException("register: " + r + " overlaps " + o);
            }
        }
        Region[] next = Arrays.copyOf(regions, regions.length + 1);
        next[next.length - 1] = r;
        regions = next;
    }

    /** Removes {@code r}; false if it was not here. */
    synchronized boolean remove(Region r) {
        Region[] rs = regions;
        int i = Arrays.asList(rs).indexOf(r);
        if (i < 0) {
            return false;
        }
        Region[] next = new Region[rs.length - 1];
        System.arraycopy(rs, 0, next, 0, i);
        System.arraycopy(rs, i + 1, next, i, rs.length - i - 1);
        regions = next;
        return true;
    }

    synchronized Region[] removeAll() {
        Region[] rs = regions;
        regions = new Region[0];
        return rs;
    }

    /**
     * REMOVE [start, end): the kernel is about to zap these pages (it waits for this event to be
     * read). Called with the {@link ZapGate} closed. A zap the region did not ask for itself
     * through {@link Region#reset} makes its page table untrusted from now on.
     */
    void removed(long start, long end) {
        for (Region r : regions) {
            long span = r.pageSpan(start, end, true);
            if (span != 0) {
                int from = (int) (span >>> 32);
                int to = (int) span;
                r.pages().zapped(from, to);
                if (!r.pages().insideReset(from, to) && !r.pages().isDistrusted()) {
                    r.pages().distrust();
                    LOG.log(System.Logger.Level.INFO, "uffd4j: pages of {0} were zapped by an madvise not made through "
                            + "Region.reset; its accessors read through the kernel from now on", r);
                }
            }
        }
    }

    /** UNMAP [start, end): those pages are gone. */
    void unmapped(long start, long end) {
        for (Region r : regions) {
            long span = r.pageSpan(start, end, false);
            if (span != 0) {
                r.pages().gone((int) (span >>> 32), (int) span);
            }
        }
    }

    /** REMAP: a region moved whole follows the memory; part of a region moved is dropped. */
    void remapped(long from, long to, long length) {
        for (Region r : regions) {
            if (r.address() == from && r.byteSize() == length) {
                r.movedTo(to);
            } else {
                long span = r.pageSpan(from, from + length, false);
                if (span != 0) {
                    r.pages().gone((int) (span >>> 32), (int) span);
                }
            }
        }
    }
}
