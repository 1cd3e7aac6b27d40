package io.github.uffd4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** UFFDIO_REGISTER / UNREGISTER: every mode combination on every memory type, and bad input. */
class RegisterTest {

    enum MemoryType { ANONYMOUS, SHMEM, HUGETLB, SHARED_HUGETLB }

    /** A registrable mapping of each type, with whatever owns it. */
    record Region(Mapping mapping, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }
    }

    static Region map(MemoryType type, int pages) {
        return switch (type) {
            case ANONYMOUS -> {
                Mapping m = Memory.anonymous(pages * PAGE);
                yield new Region(m, m::close);
            }
            case SHMEM -> {
                SharedMemory s = Memory.shared(pages * PAGE);
                yield new Region(s.view(), s::close);
            }
            case HUGETLB -> {
                TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, pages);
                Mapping m = Memory.hugetlb(pages * HugePageSize.SIZE_2MB.bytes(), HugePageSize.SIZE_2MB);
                yield new Region(m, m::close);
            }
            case SHARED_HUGETLB -> {
                TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, pages);
                SharedMemory s = Memory.sharedHugetlb(pages * HugePageSize.SIZE_2MB.bytes(), HugePageSize.SIZE_2MB);
                yield new Region(s.view(), s::close);
            }
        };
    }

    static Stream<Arguments> everyModeOnEveryMemoryType() {
        List<Set<RegisterMode>> combos = List.of(
                EnumSet.of(RegisterMode.MISSING), EnumSet.of(RegisterMode.WP), EnumSet.of(RegisterMode.MINOR),
                EnumSet.of(RegisterMode.MISSING, RegisterMode.WP), EnumSet.of(RegisterMode.MINOR, RegisterMode.WP),
                EnumSet.of(RegisterMode.MISSING, RegisterMode.MINOR), EnumSet.allOf(RegisterMode.class));
        return Stream.of(MemoryType.values()).flatMap(t -> combos.stream().map(c -> Arguments.of(t, c)));
    }

    @ParameterizedTest(name = "{1} on {0}")
    @MethodSource("everyModeOnEveryMemoryType")
    void registerEveryModeOnEveryMemoryType(MemoryType type, Set<RegisterMode> modes) throws Exception {
        boolean minorAllowed = type != MemoryType.ANONYMOUS;
        try (Userfaultfd uffd = Userfaultfd.open(); Region region = map(type, 2)) {
            MemorySegment seg = region.mapping().segment();
            if (modes.contains(RegisterMode.MINOR) && !minorAllowed) {
                UffdException e = assertThrows(UffdException.class, () -> uffd.register(seg, modes));
                assertEquals("EINVAL", e.errnoName(), e.getMessage());
                assertTrue(e.getMessage().contains("MINOR needs shmem or hugetlbfs"), e.getMessage());
                return;
            }
            Registration r = uffd.register(seg, modes);
            System.out.println(type + " " + modes + " -> " + r.ioctls());
            assertEquals(seg.address(), r.address());
            assertEquals(seg.byteSize(), r.length());
            assertEquals(modes, r.modes());
            assertTrue(r.allows(Ioctl.WAKE), r.ioctls().toString());
            if (modes.contains(RegisterMode.MISSING)) {
                assertTrue(r.allows(Ioctl.COPY), r.ioctls().toString());
            }
            if (modes.contains(RegisterMode.MINOR)) {
                assertTrue(r.allows(Ioctl.CONTINUE), r.ioctls().toString());
            }
            if (modes.contains(RegisterMode.WP)) {
                assertTrue(r.allows(Ioctl.WRITEPROTECT), r.ioctls().toString());
            }
            boolean huge = type == MemoryType.HUGETLB || type == MemoryType.SHARED_HUGETLB;
            assertEquals(!huge, r.allows(Ioctl.ZEROPAGE), "ZEROPAGE exists for all but hugetlb: " + r.ioctls());
            uffd.unregister(seg);
        }
    }

    @Test
    void unregisterStopsReportingFaults() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().nonBlocking(true).open();
             Mapping m = Memory.anonymous(2 * PAGE);
             EventBuffer events = EventBuffer.allocate(4)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            uffd.unregister(m.segment());
            assertEquals(0, TestSupport.readByte(m.segment(), 0), "an unregistered page is a plain zero page");
            assertEquals(0, uffd.read(events));
        }
    }

    @Test
    void partOfARegistrationCanBeUnregistered() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(4 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            uffd.unregister(m.slice(2 * PAGE, 2 * PAGE));
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 1);
            assertEquals(PAGE, uffd.copy(m.slice(0, PAGE), src));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> uffd.copy(m.slice(2 * PAGE, PAGE), src));
            assertTrue(e.getMessage().contains("not inside a range registered"), e.getMessage());
        }
    }

    @Test
    void badInputIsRejectedBeforeTheKernel() {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(4 * PAGE)) {
            MemorySegment seg = m.segment();
            assertTrue(assertThrows(IllegalArgumentException.class, () -> uffd.register(seg.asSlice(1, PAGE), RegisterMode.MISSING))
                    .getMessage().contains("multiples of the page size"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> uffd.register(seg.asSlice(0, PAGE + 1), RegisterMode.MISSING))
                    .getMessage().contains("multiples of the page size"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> uffd.register(MemorySegment.ofArray(new byte[8192]), RegisterMode.MISSING))
                    .getMessage().contains("never the Java heap"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> uffd.register(seg, EnumSet.noneOf(RegisterMode.class)))
                    .getMessage().contains("at least one mode"));
        }
    }

    @Test
    void hugetlbRangesMustBeHugePageAligned() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Region region = map(MemoryType.HUGETLB, 1)) {
            UffdException e = assertThrows(UffdException.class,
                    () -> uffd.register(region.mapping().slice(PAGE, PAGE), RegisterMode.MISSING));
            assertEquals("EINVAL", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("huge-page aligned"), e.getMessage());
        }
    }

    @Test
    void aRangeBelongsToOneUserfaultfd() {
        try (Userfaultfd a = Userfaultfd.open(); Userfaultfd b = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE)) {
            a.register(m.segment(), RegisterMode.MISSING);
            UffdException e = assertThrows(UffdException.class, () -> b.register(m.segment(), RegisterMode.MISSING));
            assertEquals("EBUSY", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("already registered with another userfaultfd"), e.getMessage());
        }
    }

    @Test
    void registeringUnmappedMemoryFails() {
        try (Userfaultfd uffd = Userfaultfd.open()) {
            Mapping m = Memory.anonymous(PAGE);
            long address = m.address();
            m.close();
            MemorySegment gone = io.github.uffd4j.internal.linux.Native.segment(address, PAGE);
            UffdException e = assertThrows(UffdException.class, () -> uffd.register(gone, RegisterMode.MISSING));
            assertTrue(Set.of("ENOMEM", "EINVAL").contains(e.errnoName()), e.getMessage());
            assertFalse(e.getMessage().isBlank());
        }
    }
}
