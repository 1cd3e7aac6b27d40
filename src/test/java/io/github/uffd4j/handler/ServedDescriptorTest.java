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
 * pager's runtime) refuses, with a message that says why and before anything is served. The
 * descriptors here are this process's own, adopted as a pager adopts one it was sent.
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
    void aWriteHookIsRefusedForAnotherProcesssMemory() {
        io.github.uffd4j.TestSupport.assumeFeature(Feature.POISON);
        try (Userfaultfd own = Userfaultfd.builder().features(FaultService.usableFeatures()).open();
             Mapping m = Memory.anonymous(16 * Memory.pageSize());
             FaultService service = FaultService.builder().serve(adoptedCopy(own)).start()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> service.region(m.segment())
                    .source((offset, dst) -> { }).writeProtect((region, offset, page) -> { }).register());
            assertTrue(e.getMessage().contains("another process's"), e.getMessage());
            assertEquals(0, service.regions().size(), "nothing was registered");
        }
    }
}
