package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a Java thread sees when its access to registered memory ends in SIGBUS (the SIGBUS feature,
 * or a POISONed page): HotSpot's handler for faults in unsafe memory access turns it into
 * {@code java.lang.InternalError: a fault occurred in an unsafe memory access operation} in that
 * thread; the JVM does not crash. In JIT-compiled code the error is raised asynchronously, at the
 * next safepoint poll after the access: the load returns a meaningless value, and the statements
 * up to that poll run with it before the error is thrown.
 */
class SigbusTest {

    private static final String MESSAGE = "a fault occurred in an unsafe memory access operation";

    @Test
    void sigbusFeatureTurnsAMissingPageAccessIntoInternalError() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.SIGBUS).nonBlocking(true).open();
             Mapping m = Memory.anonymous(4 * PAGE); EventBuffer events = EventBuffer.allocate(1)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            InternalError read = assertThrows(InternalError.class, () -> m.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(MESSAGE, read.getMessage());
            InternalError write = assertThrows(InternalError.class, () -> m.segment().set(ValueLayout.JAVA_LONG, PAGE, 1L));
            assertEquals(MESSAGE, write.getMessage());
            byte[] bulk = new byte[(int) (2 * PAGE)];
            assertThrows(InternalError.class, () -> MemorySegment.copy(m.segment(), ValueLayout.JAVA_BYTE, 2 * PAGE, bulk, 0, bulk.length));
            assertEquals(0, uffd.read(events), "with SIGBUS no fault event is queued");
            // the memory is still usable once populated
            uffd.zeropage(m.segment(), 0);
            assertEquals(0, m.segment().get(ValueLayout.JAVA_BYTE, 0));
        }
    }

    @Test
    void sigbusFeatureMakesKernelAccessesFailWithEfault() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.SIGBUS).open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            assertEquals(-1, Native.madvise(m.address(), PAGE, io.github.uffd4j.internal.linux.Abi.MADV_POPULATE_READ));
            assertEquals(Errno.EFAULT, Native.errno(), Errno.name(Native.errno()));
        }
    }

    private static long load(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_LONG, offset);
    }

    @Test
    void everyFaultingAccessRaisesExactlyOneErrorAlsoWhenCompiled() {
        int rounds = 100_000;
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.SIGBUS).open(); Mapping m = Memory.anonymous(64 * PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment s = m.segment();
            int atAccess = 0;
            int later = 0;
            long sink = 0;
            for (int i = 0; i < rounds; i++) {
                try {
                    try {
                        sink += load(s, (i % 64) * PAGE); // compiled after a few thousand rounds
                    } catch (InternalError e) {
                        atAccess++;
                    }
                    sink ^= i; // a statement that may still run before an asynchronous error arrives
                } catch (InternalError e) {
                    later++;
                }
            }
            System.out.println("SIGBUS in " + rounds + " loads: " + atAccess + " caught at the access, " + later
                    + " after it (asynchronous delivery in compiled code); sink " + sink);
            assertEquals(rounds, atAccess + later, "one InternalError per faulting access, none lost, none extra");
        }
    }

    @Test
    void poisonedPagesFailAtOnceWithoutBlocking() {
        TestSupport.assumeFeature(Feature.POISON);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.POISON).open(); Mapping m = Memory.anonymous(2 * PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            assertEquals(2 * PAGE, uffd.poison(m.segment(), 0));
            for (int i = 0; i < 3; i++) {
                InternalError e = assertThrows(InternalError.class, () -> m.segment().get(ValueLayout.JAVA_INT, PAGE));
                assertEquals(MESSAGE, e.getMessage());
            }
            assertEquals(-1, Native.madvise(m.address(), PAGE, io.github.uffd4j.internal.linux.Abi.MADV_POPULATE_READ));
            int errno = Native.errno();
            assertTrue(errno == Errno.EFAULT || errno == Errno.EHWPOISON, Errno.name(errno));
            // MADV_DONTNEED clears the poison marker: the page faults as missing again
            m.dontNeed(0, 2 * PAGE);
            uffd.zeropage(m.segment(), 0);
            assertEquals(0, m.segment().get(ValueLayout.JAVA_INT, PAGE));
        }
    }
}
