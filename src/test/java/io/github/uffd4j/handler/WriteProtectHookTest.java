package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The hook a snapshot feature runs its copy-before-write through. */
class WriteProtectHookTest {

    @Test
    void aWriteToAProtectedPageRunsTheHookWithTheOldContentsFirst() throws Exception {
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        List<String> seen = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(8 * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Region r = service.region(m.segment()).source(Data.source(9))
                    .writeProtect((region, offset, page) -> seen.add(offset + "=" + Long.toHexString(page.get(ValueLayout.JAVA_LONG, 0))))
                    .register();
            r.load(0, 8 * PAGE);
            r.writeProtect(0, 8 * PAGE);
            TestSupport.touchWrite(m.address() + 3 * PAGE, 0x1234);
            assertEquals(List.of(3 * PAGE + "=" + Long.toHexString(Data.word(9, 3 * PAGE))), seen);
            assertEquals(0x1234, m.segment().get(ValueLayout.JAVA_LONG, 3 * PAGE));
            assertEquals(1, service.stats().writeFaults());
            // unprotected now: a second write goes straight through
            TestSupport.touchWrite(m.address() + 3 * PAGE, 0x5678);
            assertEquals(1, seen.size());
        }
    }

    @Test
    void writeProtectNeedsAHook() {
        try (Mapping m = Memory.anonymous(8 * PAGE); FaultService service = FaultService.start()) {
            Region r = service.register(m, Data.source(9));
            assertThrows(IllegalStateException.class, () -> r.writeProtect(0, PAGE));
        }
    }
}
