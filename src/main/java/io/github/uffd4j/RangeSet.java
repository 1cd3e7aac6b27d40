package io.github.uffd4j;

import java.util.Arrays;

/**
 * A set of disjoint, merged address ranges [start, end). Reads are lock-free and allocate
 * nothing (they scan an immutable array); writes copy it under a lock.
 */
final class RangeSet {

    /** start0, end0, start1, end1, ... sorted and merged. */
    private volatile long[] bounds = new long[0];

    synchronized void add(long start, long end) {
        long[] b = bounds;
        long[] out = new long[b.length + 2];
        int n = 0;
        int i = 0;
        while (i < b.length && b[i + 1] < start) {
            out[n++] = b[i];
            out[n++] = b[i + 1];
            i += 2;
        }
        long s = start;
        long e = end;
        while (i < b.length && b[i] <= e) {
            s = Math.min(s, b[i]);
            e = Math.max(e, b[i + 1]);
            i += 2;
        }
        out[n++] = s;
        out[n++] = e;
        while (i < b.length) {
            out[n++] = b[i];
            out[n++] = b[i + 1];
            i += 2;
        }
        bounds = Arrays.copyOf(out, n);
    }

    synchronized void remove(long start, long end) {
        long[] b = bounds;
        long[] out = new long[b.length + 2];
        int n = 0;
        for (int i = 0; i < b.length; i += 2) {
            long s = b[i];
            long e = b[i + 1];
            if (e <= start || s >= end) {
                out[n++] = s;
                out[n++] = e;
                continue;
            }
            if (s < start) {
                out[n++] = s;
                out[n++] = start;
            }
            if (e > end) {
                out[n++] = end;
                out[n++] = e;
            }
        }
        bounds = Arrays.copyOf(out, n);
    }

    /** Whether [start, end) lies inside one range of the set. */
    boolean contains(long start, long end) {
        long[] b = bounds;
        for (int i = 0; i < b.length; i += 2) {
            if (b[i] <= start && end <= b[i + 1]) {
                return true;
            }
        }
        return false;
    }

    /** Whether [start, end) shares a byte with the set. */
    boolean overlaps(long start, long end) {
        long[] b = bounds;
        for (int i = 0; i < b.length; i += 2) {
            if (b[i] < end && start < b[i + 1]) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        long[] b = bounds;
        if (b.length == 0) {
            return "none";
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < b.length; i += 2) {
            if (i > 0) {
                s.append(", ");
            }
            s.append("[0x").append(Long.toHexString(b[i])).append(", 0x").append(Long.toHexString(b[i + 1])).append(')');
        }
        return s.toString();
    }
}
