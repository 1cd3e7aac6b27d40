package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.internal.linux.TestNatives;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a service of another process's userfaultfd ({@link FaultService.Builder#serve}, the
 * pager's runtime) refuses, with a message that says why and before anything is served, and what
 * it does on the owner's memory (write protection, for the pager's snapshots). The descriptors
 * here are this process's own, adopted as a pager adopts one it was sent.
 */
class ServedDescriptorTest {

    private static Userfaultfd adoptedCopy(Userfaultfd own) {
        int copy = TestNatives.dup(own.fd());
        assertTrue(copy >= 0, "dup");
        return Userfaultfd.adopt(copy, own.features(), false);
    }

    @Test
    void errorFallbackNeedsTheOwnerToHaveAskedForPoison() {
        try (Userfaultfd own = Userfaultfd.builder().features(Set.of()).open()) {
            Userfaultfd adopted = adoptedCopy(own);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> FaultService.builder().serve(adopted)
                    .failurePolicy(new FailurePolicy(0, Duration.ofSeconds(1), FailurePolicy.Fallback.ERROR)).start());
            assertTrue(e.getMessage().contains("without Feature.POISON") && e.getMessage().contains("Fallback.ZERO_PAGE"),
                    e.getMessage());
            assertTrue(adopted.isClosed(), "the service owned the adopted descriptor and closed it when it refused");
        }
    }

    @Test
    void aWriteHookOnAnotherProcesssMemoryGetsNoPageButProtectionWorks() throws Exception {
        io.github.uffd4j.TestSupport.assumeFeature(Feature.POISON);
        io.github.uffd4j.TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        long page = Memory.pageSize();
        java.util.List<Long> offsets = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.List<Long> pageAddresses = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (Userfaultfd own = Userfaultfd.builder().features(FaultService.usableFeatures()).open();
             Mapping m = Memory.anonymous(16 * page);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            // the owner registers its memory, as an app does before handing the descriptor over
            own.register(m.segment(), java.util.EnumSet.of(io.github.uffd4j.RegisterMode.MISSING, io.github.uffd4j.RegisterMode.WP));
            try (FaultService service = FaultService.builder().serve(adoptedCopy(own)).start()) {
                Region r = service.region(m.segment()).source((offset, dst) -> dst.fill((byte) 0x11))
                        .writeProtect((region, offset, contents) -> {
                            offsets.add(offset);
                            pageAddresses.add(contents.address());
                        }).register();
                java.lang.foreign.MemorySegment buf = arena.allocate(page);
                Memory.readThroughKernel(m.address(), buf); // faults the page in through the service
                assertEquals(0x11, buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, 5));
                r.writeProtect(0, page); // on the owner's memory, through its descriptor
                buf.fill((byte) 0x22);
                Memory.writeThroughKernel(m.address(), buf); // a write fault the hook sees, then goes ahead
                assertEquals(java.util.List.of(0L), offsets);
                assertEquals(java.util.List.of(0L), pageAddresses, "another process's page is not handed over: MemorySegment.NULL");
                assertEquals(0x22, m.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 5));
            }
        }
    }
}
