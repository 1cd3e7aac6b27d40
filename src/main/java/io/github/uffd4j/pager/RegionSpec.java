package io.github.uffd4j.pager;

import java.net.URI;
import java.util.Objects;

/**
 * One region as the app describes it to the pager: where it is in the app's address space, its
 * page size, and the page source the pager opens for it (by URI: sources run in the pager and are
 * described, never passed as code). Immutable: thread safe.
 *
 * @param name     for logs (at most 256 characters)
 * @param address  start address in the app's address space, page aligned
 * @param length   bytes, a positive multiple of {@code pageSize}
 * @param pageSize the mapping's page size
 * @param source   what fills the pages: see {@link Sources} for the schemes the pager knows
 * @param backing  the kind of memory: shared kinds come with their memfd, and the pager fills
 *                 their page cache through a mapping of its own, then maps pages with
 *                 UFFDIO_CONTINUE (MINOR faults)
 */
public record RegionSpec(String name, long address, long length, long pageSize, URI source, Backing backing) {

    /** What memory a region is. */
    public enum Backing {
        /** Private anonymous memory, base pages (MISSING faults, UFFDIO_COPY). */
        ANONYMOUS,
        /** Private anonymous hugetlb memory (MISSING faults, UFFDIO_COPY of huge pages). */
        HUGETLB,
        /** Shared memory on shmem, a memfd (MINOR faults, UFFDIO_CONTINUE). */
        SHMEM,
        /** Shared memory on hugetlbfs, a memfd (MINOR faults, UFFDIO_CONTINUE of huge pages). */
        SHARED_HUGETLB;

        /**
         * Whether the region comes with a memfd.
         *
         * @return true for SHMEM and SHARED_HUGETLB
         */
        public boolean isShared() {
            return this == SHMEM || this == SHARED_HUGETLB;
        }
    }

    /**
     * Checks the fields: a name of at most 256 characters, a power-of-two page
     * size, a page-aligned address and length.
     */
    public RegionSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(backing, "backing");
        if (name.length() > PagerProtocol.MAX_NAME) {
            throw new IllegalArgumentException("a region name has at most " + PagerProtocol.MAX_NAME + " characters");
        }
        if (pageSize <= 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power of two");
        }
        if (length <= 0 || length % pageSize != 0 || address <= 0 || address % pageSize != 0
                || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("region [0x" + Long.toHexString(address) + " + " + length
                    + ") must be non-empty and aligned to its page size " + pageSize);
        }
        if (source.toString().length() > PagerProtocol.MAX_URI) {
            throw new IllegalArgumentException("a source URI has at most " + PagerProtocol.MAX_URI + " characters");
        }
    }
}
