package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 16's mapping gaps: aligned and fixed-address anonymous memory, private mappings of a
 * memfd (shmem and hugetlbfs), and MAP_NORESERVE for hugetlb.
 */
class MemoryPlacementTest {

    private static final long HUGE = 2L << 20;

    // ---- alignment ------------------------------------------------------------------------------

    @Test
    void alignedMappingsStartAtTheirAlignment() {
        for (long alignment : new long[]{PAGE, 64 << 10, HUGE, 1L << 30}) {
            for (long size : new long[]{PAGE, 3 * PAGE, HUGE + PAGE}) {
                try (Mapping m = Memory.anonymousAligned(size, alignment)) {
                    assertEquals(0, m.address() % alignment, "0x" + Long.toHexString(m.address()) + " aligned to " + alignment);
                    assertEquals(Memory.roundUp(size, PAGE), m.byteSize());
                    assertEquals(Mapping.Kind.ANONYMOUS, m.kind());
                    m.segment().set(ValueLayout.JAVA_LONG, 0, 1L);
                    m.segment().set(ValueLayout.JAVA_LONG, m.byteSize() - 8, 2L);
                }
            }
        }
    }

    @Test
    void alignedMappingsLeaveNoOverMappedAddressSpaceBehind() throws IOException {
        long before = vmSizeKb();
        List<Mapping> kept = new ArrayList<>();
        try {
            for (int i = 0; i < 32; i++) {
                kept.add(Memory.anonymousAligned(HUGE, 1L << 30));
            }
            long grownKb = vmSizeKb() - before;
            // 32 x 2 MiB is 64 MiB; untrimmed over-mapping would be 32 GiB
            assertTrue(grownKb < (1L << 20), "address space grew by " + grownKb + " kB for 64 MiB of mappings");
        } finally {
            kept.forEach(Mapping::close);
        }
    }

    @Test
    void alignmentMustBeAPowerOfTwoOfAtLeastAPage() {
        for (long bad : new long[]{0, -PAGE, PAGE / 2, 3 * PAGE, 1L << 50}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAligned(PAGE, bad));
            assertTrue(e.getMessage().contains("power of two"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAligned(0, PAGE));
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAligned(1L << 47, HUGE));
    }

    // ---- fixed address ----------------------------------------------------------------------------

    @Test
    void anonymousAtMapsThereAndNeverReplaces() {
        long free;
        try (Mapping probe = Memory.anonymousAligned(8 * PAGE, HUGE)) {
            free = probe.address();
        }
        try (Mapping m = Memory.anonymousAt(free, 2 * PAGE)) {
            assertEquals(free, m.address());
            assertEquals(2 * PAGE, m.byteSize());
            m.segment().set(ValueLayout.JAVA_LONG, PAGE, 42L);
            UffdException e = assertThrows(UffdException.class, () -> Memory.anonymousAt(free + PAGE, 2 * PAGE));
            assertEquals("mmap(MAP_FIXED_NOREPLACE)", e.call());
            assertEquals("EEXIST", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("already mapped"), e.getMessage());
            assertEquals(42L, m.segment().get(ValueLayout.JAVA_LONG, PAGE), "the mapping in the way is untouched");
            try (Mapping next = Memory.anonymousAt(free + 2 * PAGE, PAGE)) {
                assertEquals(free + 2 * PAGE, next.address(), "right after it is free");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAt(0, PAGE));
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAt(free + 1, PAGE));
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymousAt(Long.MAX_VALUE & -PAGE, 2 * PAGE));
    }

    // ---- private mappings of a memfd ------------------------------------------------------------------

    @Test
    void privateMappingOfShmemIsCopyOnWrite() {
        Mapping priv;
        try (SharedMemory shm = Memory.shared(2 * PAGE)) {
            shm.view().segment().set(ValueLayout.JAVA_LONG, 0, 0x11L);
            priv = shm.mapPrivate();
            assertEquals(Mapping.Kind.PRIVATE_SHMEM, priv.kind());
            assertFalse(priv.isShared() || priv.isHugetlb());
            assertEquals(0x11L, priv.segment().get(ValueLayout.JAVA_LONG, 0), "reads see the file");
            priv.segment().set(ValueLayout.JAVA_LONG, 0, 0x22L);
            assertEquals(0x11L, shm.view().segment().get(ValueLayout.JAVA_LONG, 0), "private writes stay private");
            shm.alias().segment().set(ValueLayout.JAVA_LONG, PAGE, 0x33L);
            assertEquals(0x33L, priv.segment().get(ValueLayout.JAVA_LONG, PAGE), "a page not written privately shows the file");
            shm.alias().segment().set(ValueLayout.JAVA_LONG, 0, 0x44L);
            assertEquals(0x22L, priv.segment().get(ValueLayout.JAVA_LONG, 0), "a private copy no longer follows the file");
        }
        try (priv) {
            assertTrue(priv.isOpen(), "closing the shared memory leaves the private mapping to its owner");
            assertEquals(0x33L, priv.segment().get(ValueLayout.JAVA_LONG, PAGE));
        }
        SharedMemory closed = Memory.shared(PAGE);
        closed.close();
        assertThrows(IllegalStateException.class, closed::mapPrivate);
    }

    @Test
    void privateShmemCanBeRegisteredAndFilled() throws Exception {
        try (SharedMemory shm = Memory.shared(2 * PAGE);
             Mapping priv = shm.mapPrivate();
             Userfaultfd uffd = Userfaultfd.builder().features(Feature.MISSING_SHMEM).open();
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            Registration r = uffd.register(priv.segment(), RegisterMode.MISSING);
            assertTrue(r.allows(Ioctl.COPY), r.toString());
            uffd.copy(priv.slice(0, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 7));
            assertEquals((byte) 7, priv.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(0L, shm.view().segment().get(ValueLayout.JAVA_LONG, 0), "UFFDIO_COPY into a private mapping leaves the file alone");
            uffd.unregister(priv.segment());
        }
    }

    @Test
    void privateMappingOfAHugetlbfsMemfd() {
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 2);
        try (SharedMemory shm = Memory.sharedHugetlb(HUGE, HugePageSize.SIZE_2MB);
             Mapping priv = shm.mapPrivate(true)) {
            assertEquals(Mapping.Kind.PRIVATE_HUGETLBFS, priv.kind());
            assertTrue(priv.isHugetlb() && !priv.isShared());
            assertEquals(HUGE, priv.pageSize());
            shm.view().segment().set(ValueLayout.JAVA_LONG, 8, 5L);
            assertEquals(5L, priv.segment().get(ValueLayout.JAVA_LONG, 8));
            priv.segment().set(ValueLayout.JAVA_LONG, 8, 6L);
            assertEquals(5L, shm.view().segment().get(ValueLayout.JAVA_LONG, 8));
            assertEquals(6L, priv.segment().get(ValueLayout.JAVA_LONG, 8));
        }
        assertThrows(IllegalArgumentException.class, () -> Memory.mapPrivate(-1, PAGE, PAGE, false));
        assertThrows(IllegalArgumentException.class, () -> Memory.mapPrivate(0, PAGE, 3 * PAGE, false));
    }

    @Test
    void noReserveHugetlbReservesNoHugePagesUpFront() throws IOException {
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 2);
        long before = reservedHugePages();
        try (Mapping reserved = Memory.hugetlb(HUGE, HugePageSize.SIZE_2MB, false)) {
            assertEquals(before + 1, reservedHugePages(), "a private hugetlb mapping reserves its page (HugePages_Rsvd)");
            try (Mapping lazy = Memory.hugetlb(HUGE, HugePageSize.SIZE_2MB, true)) {
                assertEquals(Mapping.Kind.HUGETLB, lazy.kind());
                assertEquals(before + 1, reservedHugePages(), "MAP_NORESERVE reserves nothing");
                lazy.segment().set(ValueLayout.JAVA_LONG, 0, 9L); // takes a page from the pool when touched
                assertEquals(9L, lazy.segment().get(ValueLayout.JAVA_LONG, 0));
            }
        }
        assertEquals(before, reservedHugePages());
    }

    private static long reservedHugePages() throws IOException {
        return meminfo("HugePages_Rsvd:");
    }

    private static long vmSizeKb() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmSize:"))
                .map(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
    }

    private static long meminfo(String key) throws IOException {
        return Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith(key))
                .map(l -> Long.parseLong(l.replaceAll("[^0-9]", ""))).findFirst().orElseThrow();
    }
}
