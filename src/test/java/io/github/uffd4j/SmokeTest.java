package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SmokeTest {

    @Test
    void servesOneMissingFaultWithCopy() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open();
             Mapping m = Memory.anonymous(4 * PAGE);
             Arena arena = Arena.ofConfined();
             EventBuffer events = EventBuffer.allocate(8)) {
            Registration r = uffd.register(m.segment(), RegisterMode.MISSING);
            assertTrue(r.allows(Ioctl.COPY), r.toString());
            Future<Byte> reader = TestSupport.inThread("toucher", () -> TestSupport.readByte(m.segment(), PAGE + 5));
            int n = uffd.read(events, TestSupport.WAIT);
            assertEquals(1, n);
            UffdEvent.PageFault pf = (UffdEvent.PageFault) events.event(0);
            assertEquals(m.address() + PAGE, pf.address());
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 42);
            assertEquals(PAGE, uffd.copy(m.slice(PAGE, PAGE), src));
            assertEquals((byte) 42, TestSupport.await(reader));
        }
    }
}
