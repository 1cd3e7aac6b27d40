package io.github.uffd4j.bench;

import io.github.uffd4j.Memory;
import io.github.uffd4j.RegisterMode;

/**
 * The benchmark cases, named as in the C reference (src/bench/c/uffd_ref.c) so the report can
 * pair them. Each op touches one unit; an invocation touches {@link #OPS} units of one chunk.
 */
enum Case {
    COPY4K_SEQ("copy4k-seq", 1, 0, false, Touch.READ, RawHandler.Resolve.COPY, RegisterMode.MISSING),
    COPY4K_RAND("copy4k-rand", 1, 0, true, Touch.READ, RawHandler.Resolve.COPY, RegisterMode.MISSING),
    COPY64K_SEQ("copy64k-seq", 1, Case.FAULT_AROUND, false, Touch.READ, RawHandler.Resolve.COPY, RegisterMode.MISSING),
    COPY64K_RAND("copy64k-rand", 1, Case.FAULT_AROUND, true, Touch.READ, RawHandler.Resolve.COPY, RegisterMode.MISSING),
    ZEROPAGE("zeropage", 1, 0, false, Touch.READ, RawHandler.Resolve.ZEROPAGE, RegisterMode.MISSING),
    MINOR("minor", 1, 0, false, Touch.READ, RawHandler.Resolve.CONTINUE, RegisterMode.MINOR),
    WP("wp", 1, 0, false, Touch.WRITE, RawHandler.Resolve.UNPROTECT, RegisterMode.WP),
    FOUR_THREADS("4threads", 4, 0, false, Touch.READ, RawHandler.Resolve.COPY, RegisterMode.MISSING),
    IOCTL_COPY("ioctl-copy", 1, 0, false, Touch.IOCTL_COPY, null, RegisterMode.MISSING),
    IOCTL_WAKE("ioctl-wake", 1, 0, false, Touch.IOCTL_WAKE, null, RegisterMode.MISSING),
    IOCTL_WP("ioctl-wp", 1, 0, false, Touch.IOCTL_WP, null, RegisterMode.WP),
    FLOOR("floor", 1, 0, false, Touch.WRITE, null, null);

    /** Units touched per invocation (JMH's operations per invocation). */
    static final int OPS = 256;
    static final long FAULT_AROUND = 64 * 1024;

    /** What one op does. */
    enum Touch { READ, WRITE, IOCTL_COPY, IOCTL_WAKE, IOCTL_WP }

    final String id;
    final int threads;
    final long unit;
    final boolean random;
    final Touch touch;
    /** How the handler thread resolves faults; null: no handler thread. */
    final RawHandler.Resolve resolve;
    /** The registration; null: no userfaultfd at all (the floor). */
    final RegisterMode mode;

    Case(String id, int threads, long unit, boolean random, Touch touch, RawHandler.Resolve resolve, RegisterMode mode) {
        this.id = id;
        this.threads = threads;
        this.unit = unit == 0 ? Memory.pageSize() : unit;
        this.random = random;
        this.touch = touch;
        this.resolve = resolve;
        this.mode = mode;
    }

    long chunkBytes() {
        return OPS * unit;
    }

    static Case of(String id) {
        for (Case c : values()) {
            if (c.id.equals(id)) {
                return c;
            }
        }
        throw new IllegalArgumentException("no benchmark case '" + id + "'");
    }

    /**
     * 0..n-1, shuffled when {@code random} by Fisher-Yates driven by SplitMix64 with seed 42:
     * the C reference's order, touch for touch.
     */
    static int[] order(int n, boolean random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        if (random) {
            long seed = 42;
            for (int i = n - 1; i > 0; i--) {
                seed += 0x9e3779b97f4a7c15L;
                long z = seed;
                z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
                z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
                z ^= z >>> 31;
                int j = (int) Long.remainderUnsigned(z, i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        return order;
    }
}
