package io.github.uffd4j;

import io.github.uffd4j.internal.linux.TestNatives;
import io.github.uffd4j.internal.linux.Errno;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.OptionalLong;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The signed count fields of UFFDIO_COPY, ZEROPAGE and MOVE as the kernel writes them
 * ({@link UffdException#kernelResult()}): bytes done before a partial stop, a negated errno when
 * the first page failed, nothing when the kernel refused the call before doing anything.
 */
class KernelResultTest {

    @Test
    void partialCopyReportsTheBytesDoneAndAnExistingFirstPageReportsMinusEexist() {
        try (Userfaultfd uffd = Userfaultfd.open();
             Mapping m = Memory.anonymous(3 * PAGE);
             Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, 3 * PAGE, (byte) 5);
            uffd.zeropage(m.address() + 2 * PAGE, PAGE, 0); // page 2 exists now

            // pages 0 and 1 are copied, page 2 stops the kernel: EAGAIN, copy = 2 pages
            AddressSpaceChangedException partial = assertThrows(AddressSpaceChangedException.class,
                    () -> uffd.copy(m.address(), src.address(), 3 * PAGE, 0));
            assertEquals(OptionalLong.of(2 * PAGE), partial.kernelResult(), partial.getMessage());
            assertEquals(2 * PAGE, partial.bytesDone());
            assertEquals((byte) 5, m.segment().get(ValueLayout.JAVA_BYTE, PAGE));

            // the first page exists: nothing done, copy = -EEXIST
            PageExistsException exists = assertThrows(PageExistsException.class,
                    () -> uffd.copy(m.address() + 2 * PAGE, src.address(), PAGE, 0));
            assertEquals(OptionalLong.of(-Errno.EEXIST), exists.kernelResult(), exists.getMessage());
            assertEquals(0, exists.bytesDone());

            // the same through ZEROPAGE's zeropage field
            PageExistsException zero = assertThrows(PageExistsException.class, () -> uffd.zeropage(m.address(), PAGE, 0));
            assertEquals(OptionalLong.of(-Errno.EEXIST), zero.kernelResult());
        }
    }

    @Test
    void aCallRefusedBeforeAnyWorkHasNoKernelResult() {
        try (Userfaultfd uffd = Userfaultfd.open();
             Mapping m = Memory.anonymous(PAGE);
             Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, 2 * PAGE, (byte) 1);
            // a destination past the end of the user address space is refused by the kernel's
            // argument checks, before the copy field is written (an adopted descriptor has no
            // registry of its own, so the call reaches the kernel)
            try (Userfaultfd unchecked = Userfaultfd.adopt(TestNatives.dup(uffd.fd()), uffd.features(), false)) {
                UffdException e = assertThrows(UffdException.class, () -> unchecked.copy(1L << 47, src.address(), PAGE, 0));
                assertEquals("EINVAL", e.errnoName(), e.getMessage());
                assertTrue(e.kernelResult().isEmpty(), "the kernel wrote no count: " + e.kernelResult());
            }
            // a source the kernel cannot read fails inside the copy: the field says -EFAULT
            UffdException fault = assertThrows(UffdException.class, () -> uffd.copy(m.address(), PAGE, PAGE, 0));
            assertEquals("EFAULT", fault.errnoName(), fault.getMessage());
            assertEquals(OptionalLong.of(-Errno.EFAULT), fault.kernelResult());
            // calls without a count field never have one
            UffdException wp = assertThrows(UffdException.class, () -> uffd.writeProtect(m.address(), PAGE, true, 0));
            assertTrue(wp.kernelResult().isEmpty());
            assertEquals(PAGE, uffd.copy(m.address(), src.address(), PAGE, 0), "success still returns the count");
        }
    }

    @Test
    void moveReportsItsCountField() {
        TestSupport.assumeFeature(Feature.MOVE);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MOVE).open();
             Mapping dst = Memory.anonymous(2 * PAGE);
             Mapping src = Memory.anonymous(2 * PAGE)) {
            uffd.register(dst.segment(), RegisterMode.MISSING);
            src.segment().fill((byte) 3);
            uffd.zeropage(dst.address() + PAGE, PAGE, 0);
            AddressSpaceChangedException partial = assertThrows(AddressSpaceChangedException.class,
                    () -> uffd.move(dst.address(), src.address(), 2 * PAGE, 0));
            assertEquals(OptionalLong.of(PAGE), partial.kernelResult(), partial.getMessage());
            PageExistsException exists = assertThrows(PageExistsException.class,
                    () -> uffd.move(dst.address() + PAGE, src.address() + PAGE, PAGE, 0));
            assertEquals(OptionalLong.of(-Errno.EEXIST), exists.kernelResult(), exists.getMessage());
        }
    }
}
