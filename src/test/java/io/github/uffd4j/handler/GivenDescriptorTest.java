package io.github.uffd4j.handler;

import io.github.uffd4j.CreationPath;
import io.github.uffd4j.Userfaultfd;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A service of this process's memory through a descriptor the caller chose: opened by a given
 * creation path ({@link FaultService.Builder#creationPath}) or handed over open
 * ({@link FaultService.Builder#use}), and what is refused, with the reason.
 */
class GivenDescriptorTest {

    private static final long SEED = 77;
    private static final long SIZE = 1 << 20;

    private static final PageSource SOURCE = (offset, dst) -> {
        for (long i = 0; i < dst.byteSize(); i += 8) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, i, Data.word(SEED, offset + i));
        }
    };

    private static void assertServed(LazySegment data) {
        for (long o = 0; o < SIZE; o += 8) {
            if (data.getLong(o) != Data.word(SEED, o)) {
                throw new AssertionError("wrong word at " + o);
            }
        }
    }

    @Test
    void aDescriptorTheCallerOpenedServesTheSegmentAndIsClosedWithIt() {
        Userfaultfd uffd = Userfaultfd.builder().creationPath(CreationPath.DEVICE).features(FaultService.usableFeatures()).open();
        assertEquals(CreationPath.DEVICE, uffd.creationPath());
        try (LazySegment data = LazySegment.builder(SIZE, SOURCE).use(uffd).open()) {
            assertServed(data);
            assertEquals(SIZE / 4096, data.stats().pagesLoaded(), "every page loaded once, through the given descriptor");
            assertFalse(uffd.isClosed());
        }
        assertTrue(uffd.isClosed(), "the segment owned the descriptor and closed it");
    }

    @Test
    void eachCreationPathServes() {
        for (CreationPath path : CreationPath.values()) {
            try (LazySegment data = LazySegment.builder(SIZE, SOURCE).creationPath(path).open()) {
                assertServed(data);
            }
        }
    }

    @Test
    void aUserModeOnlyDescriptorIsRefusedAndStaysTheCallers() {
        try (Userfaultfd uffd = Userfaultfd.builder().userModeOnly(true).open()) {
            assertTrue(uffd.isUserModeOnly());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FaultService.builder().use(uffd));
            assertTrue(e.getMessage().contains("user-mode-only") && e.getMessage().contains("inside the kernel"), e.getMessage());
            assertFalse(uffd.isClosed(), "refused before the service took it: still the caller's");
        }
        try (Userfaultfd plain = Userfaultfd.open()) {
            assertFalse(plain.isUserModeOnly());
        }
    }

    @Test
    void oneDescriptorChoicePerService() {
        try (Userfaultfd uffd = Userfaultfd.open()) {
            assertThrows(IllegalStateException.class, () -> FaultService.builder().use(uffd).creationPath(CreationPath.DEVICE));
            assertThrows(IllegalStateException.class, () -> FaultService.builder().creationPath(CreationPath.DEVICE).use(uffd));
            assertThrows(IllegalStateException.class, () -> FaultService.builder().use(uffd).serve(uffd));
            assertThrows(IllegalStateException.class, () -> FaultService.builder().serve(uffd).use(uffd));
            assertFalse(uffd.isClosed());
        }
    }
}
