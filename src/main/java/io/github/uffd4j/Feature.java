package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

import java.util.EnumSet;
import java.util.Set;

/**
 * The userfaultfd features of the UFFDIO_API handshake (UFFD_FEATURE_*), with the kernel that added each.
 *
 * <p>Immutable: thread safe.
 */
public enum Feature {
    /** Write-protect faults are reported (UFFD_FEATURE_PAGEFAULT_FLAG_WP). */
    PAGEFAULT_FLAG_WP(Abi.UFFD_FEATURE_PAGEFAULT_FLAG_WP, "4.3"),
    /** FORK events carry a userfaultfd for the child (UFFD_FEATURE_EVENT_FORK; needs CAP_SYS_PTRACE). */
    EVENT_FORK(Abi.UFFD_FEATURE_EVENT_FORK, "4.11"),
    /** REMAP events when a registered range is moved by mremap (UFFD_FEATURE_EVENT_REMAP). */
    EVENT_REMAP(Abi.UFFD_FEATURE_EVENT_REMAP, "4.11"),
    /** REMOVE events on madvise(MADV_DONTNEED/MADV_REMOVE) of a registered range. */
    EVENT_REMOVE(Abi.UFFD_FEATURE_EVENT_REMOVE, "4.11"),
    /** MISSING mode on hugetlbfs memory. */
    MISSING_HUGETLBFS(Abi.UFFD_FEATURE_MISSING_HUGETLBFS, "4.11"),
    /** MISSING mode on shmem (tmpfs, memfd) memory. */
    MISSING_SHMEM(Abi.UFFD_FEATURE_MISSING_SHMEM, "4.11"),
    /** UNMAP events when a registered range is unmapped. */
    EVENT_UNMAP(Abi.UFFD_FEATURE_EVENT_UNMAP, "4.11"),
    /** Faults raise SIGBUS in the faulting thread instead of being queued as events. */
    SIGBUS(Abi.UFFD_FEATURE_SIGBUS, "4.14"),
    /** Page-fault events carry the faulting thread's id. */
    THREAD_ID(Abi.UFFD_FEATURE_THREAD_ID, "4.14"),
    /** MINOR mode on hugetlbfs memory. */
    MINOR_HUGETLBFS(Abi.UFFD_FEATURE_MINOR_HUGETLBFS, "5.13"),
    /** MINOR mode on shmem memory. */
    MINOR_SHMEM(Abi.UFFD_FEATURE_MINOR_SHMEM, "5.14"),
    /** Fault addresses are exact, not rounded down to the page. */
    EXACT_ADDRESS(Abi.UFFD_FEATURE_EXACT_ADDRESS, "5.18"),
    /** WP mode on shmem and hugetlbfs memory. */
    WP_HUGETLBFS_SHMEM(Abi.UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "5.19"),
    /** WRITEPROTECT also protects pages that were never populated. */
    WP_UNPOPULATED(Abi.UFFD_FEATURE_WP_UNPOPULATED, "6.4"),
    /** The UFFDIO_POISON ioctl. */
    POISON(Abi.UFFD_FEATURE_POISON, "6.6"),
    /** Write-protect faults are resolved by the kernel itself; dirty pages are read with PAGEMAP_SCAN. */
    WP_ASYNC(Abi.UFFD_FEATURE_WP_ASYNC, "6.7"),
    /** The UFFDIO_MOVE ioctl. */
    MOVE(Abi.UFFD_FEATURE_MOVE, "6.8");

    private final long bit;
    private final String since;

    Feature(long bit, String since) {
        this.bit = bit;
        this.since = since;
    }

    /**
     * The UFFD_FEATURE_* bit.
     *
     * @return the bit
     */
    public long bit() {
        return bit;
    }

    /**
     * The first Linux version that has the feature ("6.8").
     *
     * @return the kernel version, major.minor
     */
    public String sinceKernel() {
        return since;
    }

    /**
     * The features whose bits are set in {@code mask}.
     *
     * @param mask UFFD_FEATURE_* bits; unknown bits are ignored
     * @return the features, a new set
     */
    public static EnumSet<Feature> fromMask(long mask) {
        EnumSet<Feature> set = EnumSet.noneOf(Feature.class);
        for (Feature f : values()) {
            if ((mask & f.bit) != 0) {
                set.add(f);
            }
        }
        return set;
    }

    /**
     * The bits of {@code features}, or-ed together.
     *
     * @param features the features
     * @return the mask
     */
    public static long toMask(Set<Feature> features) {
        long mask = 0;
        for (Feature f : features) {
            mask |= f.bit;
        }
        return mask;
    }
}
