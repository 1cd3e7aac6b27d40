package io.github.uffd4j.internal;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What write tracking starts with (live and tracked snapshots, migration): the memory checked, and
 * a userfaultfd of its own with the memory registered in WP mode. Not exported.
 */
public final class WriteProtection {

    private WriteProtection() {
    }

    /** {@code memory} must be live, non-empty off-heap memory aligned to {@code pageSize}, a power of two from the system's page size. */
    public static void checkMemory(String what, MemorySegment memory, long pageSize) {
        Objects.requireNonNull(memory, "memory");
        if (!memory.isNative() || !memory.scope().isAlive()) {
            throw new IllegalArgumentException(what + ": the memory must be live off-heap memory, not " + memory);
        }
        if (pageSize < Memory.pageSize() || Long.bitCount(pageSize) != 1 || pageSize > 1 << 30) {
            throw new IllegalArgumentException(what + ": page size must be a power of two from " + Memory.pageSize() + ", not " + pageSize);
        }
        if (memory.byteSize() == 0 || memory.address() % pageSize != 0 || memory.byteSize() % pageSize != 0) {
            throw new IllegalArgumentException(what + ": memory at 0x" + Long.toHexString(memory.address()) + " of "
                    + memory.byteSize() + " bytes must be non-empty and aligned to the page size " + pageSize);
        }
    }

    /**
     * A userfaultfd with PAGEFAULT_FLAG_WP, {@code needed} and, where the kernel has it,
     * WP_HUGETLBFS_SHMEM, with {@code memory} registered in WP mode; a missing feature or a memory
     * that cannot be registered is an exception saying why.
     */
    public static Userfaultfd register(String what, MemorySegment memory, List<Feature> needed) {
        Set<Feature> have = Userfaultfd.kernelFeatures();
        for (Feature f : needed) {
            if (!have.contains(f)) {
                throw new UnsupportedOperationException(what + " need UFFD_FEATURE_" + f + " (Linux " + f.sinceKernel()
                        + "+); this kernel is " + System.getProperty("os.version"));
            }
        }
        Set<Feature> want = EnumSet.of(Feature.PAGEFAULT_FLAG_WP);
        want.addAll(needed);
        if (have.contains(Feature.WP_HUGETLBFS_SHMEM)) {
            want.add(Feature.WP_HUGETLBFS_SHMEM);
        }
        Userfaultfd uffd = Userfaultfd.builder().features(want).open();
        try {
            uffd.register(memory, RegisterMode.WP);
            return uffd;
        } catch (UffdException e) {
            uffd.close();
            throw new IllegalArgumentException(what + ": cannot write-protect " + memory + ": " + e.getMessage()
                    + (e.getMessage().contains("EBUSY") ? " (the memory is registered with another userfaultfd, a FaultService's say)"
                    : " (it must be anonymous, shared (memfd/shmem) or hugetlb memory of this process)"), e);
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
    }
}
