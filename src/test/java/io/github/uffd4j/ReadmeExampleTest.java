package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The example of README.md, as written there (keep the two in step). */
class ReadmeExampleTest {

    @Test
    void theReadmeExampleServesAFault() throws Exception {
        Thread handlerThread;
        byte read;
        try (Userfaultfd uffd = Userfaultfd.open();
             Mapping region = Memory.anonymous(1 << 20)) {
            uffd.register(region.segment(), RegisterMode.MISSING);

            // the handler: wait for faults, fill each faulting page
            Thread handler = Thread.ofPlatform().start(() -> {
                try (EventBuffer events = EventBuffer.allocate(16); Arena arena = Arena.ofConfined()) {
                    MemorySegment page = arena.allocate(Memory.pageSize(), Memory.pageSize());
                    for (;;) {
                        int n = uffd.read(events);                      // waits; uffd.close() ends it
                        for (int i = 0; i < n; i++) {
                            if (events.kind(i) == EventKind.PAGEFAULT) {
                                page.fill((byte) 42);                   // your contents here
                                uffd.copy(events.faultAddress(i), page.address(), page.byteSize(), 0);
                            }
                        }
                    }
                } catch (IllegalStateException closed) {
                    // the userfaultfd was closed
                }
            });

            region.populateRead(0, Memory.pageSize());  // touch the first page: it faults, waits, is served
            byte b = region.segment().get(ValueLayout.JAVA_BYTE, 0);  // 42
            read = b;
            handlerThread = handler;
        }
        assertEquals(42, read);
        handlerThread.join(TimeUnit.SECONDS.toMillis(10));
        assertTrue(!handlerThread.isAlive(), "closing the userfaultfd ended the handler thread");
    }
}
