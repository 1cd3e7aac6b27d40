package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Memory.populate and Memory.dontNeed on raw addresses: the calls the handler runtime makes. */
class RawMemoryTest {

    @Test
    void populateFaultsARegisteredPageInThroughItsHandler() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(2 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> reader = inThread("populate", () -> {
                Memory.populate(m.address() + PAGE, PAGE, false);
                return null;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class,
                    uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no fault")));
            assertEquals(m.address() + PAGE, pf.address());
            assertTrue(!pf.isWrite());
            uffd.copy(m.slice(PAGE, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 6));
            await(reader);
            assertEquals((byte) 6, m.segment().get(ValueLayout.JAVA_BYTE, PAGE + 5));
        }
    }

    @Test
    void populateWriteReportsAWriteFault() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> writer = inThread("populate", () -> {
                Memory.populate(m.address(), PAGE, true);
                return null;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class,
                    uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no fault")));
            assertTrue(pf.isWrite(), pf.toString());
            uffd.zeropage(m.segment(), 0);
            await(writer);
        }
    }

    @Test
    void populateOfAPoisonedPageIsAUffdExceptionNamingTheCall() {
        TestSupport.assumeFeature(Feature.POISON);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.POISON).open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            uffd.poison(m.segment(), 0);
            for (boolean write : new boolean[]{false, true}) {
                UffdException e = assertThrows(UffdException.class, () -> Memory.populate(m.address(), PAGE, write));
                assertEquals(write ? "madvise(MADV_POPULATE_WRITE)" : "madvise(MADV_POPULATE_READ)", e.call());
                assertTrue(e.errnoName().equals("EFAULT") || e.errnoName().equals("EHWPOISON"), e.getMessage());
                assertTrue(e.getMessage().contains("poisoned"), e.getMessage());
                assertEquals(m.address(), e.address());
            }
        }
    }

    @Test
    void populateOfAnUnmappedRangeIsEnomem() {
        Mapping m = Memory.anonymous(PAGE);
        long address = m.address();
        m.close();
        UffdException e = assertThrows(UffdException.class, () -> Memory.populate(address, PAGE, false));
        assertEquals("madvise(MADV_POPULATE_READ)", e.call());
        assertEquals("ENOMEM", e.errnoName());
        assertTrue(e.getMessage().contains("not mapped"), e.getMessage());
    }

    @Test
    void populateAndDontNeedCheckAlignmentInJava() {
        try (Mapping m = Memory.anonymous(2 * PAGE)) {
            assertThrows(IllegalArgumentException.class, () -> Memory.populate(m.address() + 1, PAGE, false));
            assertThrows(IllegalArgumentException.class, () -> Memory.populate(m.address(), PAGE + 1, true));
            assertThrows(IllegalArgumentException.class, () -> Memory.populate(m.address(), 0, true));
            assertThrows(IllegalArgumentException.class, () -> Memory.dontNeed(m.address(), -PAGE));
            assertThrows(IllegalArgumentException.class, () -> Memory.dontNeed(-PAGE, 2 * PAGE), "wraps around");
        }
    }

    @Test
    void dontNeedDropsPrivatePages() {
        try (Mapping m = Memory.anonymous(2 * PAGE); PagemapScanner scanner = PagemapScanner.open()) {
            Memory.populate(m.address(), 2 * PAGE, true);
            assertTrue(scanner.isPresent(m.address(), 2 * PAGE));
            m.segment().set(ValueLayout.JAVA_LONG, PAGE, 11L);
            Memory.dontNeed(m.address() + PAGE, PAGE);
            assertTrue(scanner.isPresent(m.address(), PAGE));
            assertTrue(!scanner.isPresent(m.address() + PAGE, PAGE));
            assertEquals(0L, m.segment().get(ValueLayout.JAVA_LONG, PAGE));
        }
        Mapping gone = Memory.anonymous(PAGE);
        gone.close();
        UffdException e = assertThrows(UffdException.class, () -> Memory.dontNeed(gone.address(), PAGE));
        assertEquals("madvise(MADV_DONTNEED)", e.call());
        assertEquals("ENOMEM", e.errnoName());
    }
}
