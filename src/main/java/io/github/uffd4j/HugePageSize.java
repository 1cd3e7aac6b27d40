package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

/**
 * Huge page sizes for hugetlb mappings (x86_64 and aarch64 with 4 KiB base pages).
 *
 * <p>Immutable: thread safe.
 */
public enum HugePageSize {
    /** 2 MiB pages. */
    SIZE_2MB(2L << 20, Abi.MAP_HUGE_2MB, Abi.MFD_HUGE_2MB),
    /** 1 GiB pages (reservable at run time only where memory is not fragmented). */
    SIZE_1GB(1L << 30, Abi.MAP_HUGE_1GB, Abi.MFD_HUGE_1GB);

    private final long bytes;
    private final int mmapFlag;
    private final int memfdFlag;

    HugePageSize(long bytes, int mmapFlag, int memfdFlag) {
        this.bytes = bytes;
        this.mmapFlag = mmapFlag;
        this.memfdFlag = memfdFlag;
    }

    /**
     * The page size in bytes.
     *
     * @return the size in bytes
     */
    public long bytes() {
        return bytes;
    }

    /**
     * The size with this many bytes, or null when there is none.
     *
     * @param bytes a page size in bytes
     * @return the matching size, or null
     */
    public static HugePageSize ofBytes(long bytes) {
        for (HugePageSize s : values()) {
            if (s.bytes == bytes) {
                return s;
            }
        }
        return null;
    }

    int mmapFlag() {
        return mmapFlag;
    }

    int memfdFlag() {
        return memfdFlag;
    }

    /** The sysfs folder of this size's pool: /sys/kernel/mm/hugepages/hugepages-2048kB. */
    String sysfsDir() {
        return "/sys/kernel/mm/hugepages/hugepages-" + (bytes >> 10) + "kB";
    }
}
