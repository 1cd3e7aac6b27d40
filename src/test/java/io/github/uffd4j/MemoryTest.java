package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mapping helpers: sizes, aliases, madvise, mremap, and misuse after close. */
class MemoryTest {

    @Test
    void anonymousMappingsAreRoundedAndReleased() {
        Mapping m = Memory.anonymous(PAGE + 1);
        assertEquals(2 * PAGE, m.byteSize());
        assertEquals(Mapping.Kind.ANONYMOUS, m.kind());
        assertEquals(0, m.address() % PAGE);
        m.segment().set(ValueLayout.JAVA_LONG, PAGE, 5L);
        m.close();
        assertFalse(m.isOpen());
        assertThrows(IllegalStateException.class, () -> m.segment().get(ValueLayout.JAVA_LONG, PAGE), "use after close is an exception");
        m.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> m.dontNeed(0, PAGE));
        assertThrows(IllegalArgumentException.class, () -> Memory.anonymous(0));
    }

    @Test
    void sharedMemoryHasTwoViewsOfTheSamePages() {
        SharedMemory shm = Memory.shared(3 * PAGE);
        assertTrue(shm.view().isShared() && shm.alias().isShared());
        assertTrue(shm.view().address() != shm.alias().address());
        shm.view().segment().set(ValueLayout.JAVA_INT, 2 * PAGE, 77);
        assertEquals(77, shm.alias().segment().get(ValueLayout.JAVA_INT, 2 * PAGE));
        shm.close();
        assertFalse(shm.view().isOpen() || shm.alias().isOpen());
        shm.close(); // idempotent
    }

    @Test
    void madviseChecksItsRange() {
        try (Mapping m = Memory.anonymous(2 * PAGE)) {
            assertThrows(IndexOutOfBoundsException.class, () -> m.dontNeed(PAGE, 2 * PAGE));
            assertThrows(IllegalArgumentException.class, () -> m.dontNeed(1, PAGE));
            m.segment().set(ValueLayout.JAVA_LONG, 0, 9L);
            m.dontNeed(0, PAGE);
            assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, 0), "private anonymous pages read back as zeros");
            UffdException e = assertThrows(UffdException.class, () -> m.remove(0, PAGE));
            assertEquals("madvise(MADV_REMOVE)", e.call());
            assertEquals("EINVAL", e.errnoName(), "MADV_REMOVE needs shared memory");
        }
    }

    @Test
    void dontNeedKeepsSharedContentsInThePageCache() {
        try (SharedMemory shm = Memory.shared(PAGE)) {
            shm.view().segment().set(ValueLayout.JAVA_LONG, 0, 3L);
            shm.view().dontNeed(0, PAGE);
            assertEquals(3L, shm.view().segment().get(ValueLayout.JAVA_LONG, 0));
            shm.view().remove(0, PAGE);
            assertEquals(0L, shm.alias().segment().get(ValueLayout.JAVA_LONG, 0), "MADV_REMOVE frees the backing page");
        }
    }

    @Test
    void remapMovesTheContentsAndRetiresTheOldMapping() {
        Mapping m = Memory.anonymous(PAGE);
        m.segment().set(ValueLayout.JAVA_LONG, 8, 12L);
        try (Mapping grown = m.remap(4 * PAGE)) {
            assertFalse(m.isOpen());
            assertThrows(IllegalStateException.class, () -> m.segment().get(ValueLayout.JAVA_LONG, 8));
            assertEquals(4 * PAGE, grown.byteSize());
            assertEquals(12L, grown.segment().get(ValueLayout.JAVA_LONG, 8));
            assertThrows(IllegalArgumentException.class, () -> grown.remap(PAGE + 1));
        }
    }

    @Test
    void hugetlbMappingsUseHugePages() {
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 1);
        try (Mapping m = Memory.hugetlb(1, HugePageSize.SIZE_2MB)) {
            assertEquals(HugePageSize.SIZE_2MB.bytes(), m.byteSize());
            assertEquals(HugePageSize.SIZE_2MB.bytes(), m.pageSize());
            assertEquals(0, m.address() % HugePageSize.SIZE_2MB.bytes());
            m.segment().set(ValueLayout.JAVA_BYTE, m.byteSize() - 1, (byte) 1);
        }
    }

    @Test
    void oneGigabyteHugePagesWhereReservable() {
        TestSupport.assumeHugePages(HugePageSize.SIZE_1GB, 1);
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.hugetlb(HugePageSize.SIZE_1GB.bytes(), HugePageSize.SIZE_1GB)) {
            Registration r = uffd.register(m.segment(), RegisterMode.MISSING);
            assertTrue(r.allows(Ioctl.COPY));
            assertFalse(r.allows(Ioctl.ZEROPAGE));
        }
    }

    @Test
    void hugetlbWithoutFreePagesIsEnomem() {
        long free = Memory.freeHugePages(HugePageSize.SIZE_2MB);
        long tooMany = (free + 1) * HugePageSize.SIZE_2MB.bytes();
        UffdException e = assertThrows(UffdException.class, () -> Memory.hugetlb(tooMany, HugePageSize.SIZE_2MB).close());
        assertEquals("mmap", e.call());
        assertEquals("ENOMEM", e.errnoName(), e.getMessage());
        assertTrue(e.getMessage().contains("nr_hugepages"), e.getMessage());
    }
}
