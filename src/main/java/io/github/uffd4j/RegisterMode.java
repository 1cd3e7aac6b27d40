package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

import java.util.EnumSet;
import java.util.Set;

/**
 * What faults a registered range reports (UFFDIO_REGISTER_MODE_*); modes can be combined.
 *
 * <p>Immutable: thread safe.
 */
public enum RegisterMode {
    /** Faults on pages that are not populated; resolve with COPY, ZEROPAGE, MOVE or POISON. */
    MISSING(Abi.UFFDIO_REGISTER_MODE_MISSING),
    /** Writes to write-protected pages; resolve with WRITEPROTECT (unprotect). */
    WP(Abi.UFFDIO_REGISTER_MODE_WP),
    /** Faults on shmem/hugetlbfs pages present in the page cache but not mapped; resolve with CONTINUE. */
    MINOR(Abi.UFFDIO_REGISTER_MODE_MINOR);

    private final long bit;

    RegisterMode(long bit) {
        this.bit = bit;
    }

    /**
     * The UFFDIO_REGISTER_MODE_* bit.
     *
     * @return the bit
     */
    public long bit() {
        return bit;
    }

    static long toMask(Set<RegisterMode> modes) {
        long mask = 0;
        for (RegisterMode m : modes) {
            mask |= m.bit;
        }
        return mask;
    }

    static EnumSet<RegisterMode> fromMask(long mask) {
        EnumSet<RegisterMode> set = EnumSet.noneOf(RegisterMode.class);
        for (RegisterMode m : values()) {
            if ((mask & m.bit) != 0) {
                set.add(m);
            }
        }
        return set;
    }
}
