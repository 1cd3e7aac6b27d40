package io.github.uffd4j.handler;

import io.github.uffd4j.Mapping;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What transparent huge pages offer the loaders, read once from /sys/kernel/mm/transparent_hugepage:
 * the size of the block one page-middle-directory entry maps (2 MiB with 4 KiB pages on x86-64 and
 * arm64), when the kernel hands out such pages to memory advised MADV_HUGEPAGE. A staging buffer
 * made of them fills a whole aligned block of a region with one UFFDIO_MOVE of one entry: no
 * allocation or copy of 512 pages as UFFDIO_COPY needs, and the region's block ends up mapped
 * by one huge page.
 */
final class HugeUnits {

    private static final Path SYSFS = Path.of("/sys/kernel/mm/transparent_hugepage");
    private static final long UNIT = probe();

    private HugeUnits() {
    }

    /** The transparent huge page size, or 0 when they are disabled or unknown here. */
    static long unitBytes() {
        return UNIT;
    }

    /**
     * Advises all of {@code m} MADV_HUGEPAGE; false when the kernel refuses (then it keeps base
     * pages, and whole blocks are copied rather than moved).
     */
    static boolean advise(Mapping m) {
        try {
            m.hugePage(0, m.byteSize());
            return true;
        } catch (RuntimeException noThp) {
            return false;
        }
    }

    private static long probe() {
        try {
            String enabled = Files.readString(SYSFS.resolve("enabled"));
            if (!enabled.contains("[always]") && !enabled.contains("[madvise]")) {
                return 0;
            }
            long size = Long.parseLong(Files.readString(SYSFS.resolve("hpage_pmd_size")).trim());
            return Long.bitCount(size) == 1 ? size : 0;
        } catch (IOException | RuntimeException unknown) {
            return 0;
        }
    }
}
