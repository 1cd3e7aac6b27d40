package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.List;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PAGEMAP_SCAN: page states, and WP_ASYNC dirty tracking without fault round trips. */
class PagemapScanTest {

    @Test
    void asyncWriteProtectTracksWrittenPages() {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.WP_ASYNC, Feature.WP_UNPOPULATED).open();
             Mapping m = Memory.anonymous(8 * PAGE); PagemapScanner scanner = PagemapScanner.open()) {
            uffd.register(m.segment(), RegisterMode.WP);
            uffd.writeProtect(m.segment());
            assertEquals(List.of(), scanner.collectWritten(m.segment()), "nothing written yet");
            // with WP_ASYNC the kernel resolves write-protect faults itself: plain Java stores never block
            m.segment().set(ValueLayout.JAVA_LONG, PAGE, 1L);
            m.segment().set(ValueLayout.JAVA_LONG, 3 * PAGE, 2L);
            m.segment().set(ValueLayout.JAVA_LONG, 4 * PAGE, 3L);
            List<PageRegion> written = scanner.collectWritten(m.segment());
            assertEquals(List.of(
                    new PageRegion(m.address() + PAGE, m.address() + 2 * PAGE, PagemapScanner.PAGE_IS_WRITTEN),
                    new PageRegion(m.address() + 3 * PAGE, m.address() + 5 * PAGE, PagemapScanner.PAGE_IS_WRITTEN)), written);
            assertEquals(List.of(), scanner.collectWritten(m.segment()), "collecting write-protected them again");
            m.segment().set(ValueLayout.JAVA_LONG, 7 * PAGE, 4L);
            assertEquals(List.of(new PageRegion(m.address() + 7 * PAGE, m.address() + 8 * PAGE, PagemapScanner.PAGE_IS_WRITTEN)),
                    scanner.collectWritten(m.segment()));
            assertEquals(2L, m.segment().get(ValueLayout.JAVA_LONG, 3 * PAGE));
        }
    }

    @Test
    void scanReportsPresentPagesWithoutAUserfaultfd() {
        try (Mapping m = Memory.anonymous(4 * PAGE); PagemapScanner scanner = PagemapScanner.open()) {
            m.populateWrite(2 * PAGE, PAGE);
            List<PageRegion> present = scanner.scan(m.segment(), PagemapScanner.PAGE_IS_PRESENT, PagemapScanner.PAGE_IS_PRESENT, false);
            assertEquals(List.of(new PageRegion(m.address() + 2 * PAGE, m.address() + 3 * PAGE, PagemapScanner.PAGE_IS_PRESENT)), present);
        }
    }

    @Test
    void writeProtectingScanNeedsAsyncWriteProtect() {
        try (Mapping m = Memory.anonymous(PAGE); PagemapScanner scanner = PagemapScanner.open()) {
            m.populateWrite(0, PAGE);
            UffdException e = assertThrows(UffdException.class, () -> scanner.collectWritten(m.segment()));
            assertEquals("PAGEMAP_SCAN", e.call());
            assertTrue(!e.getMessage().isBlank(), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> scanner.scan(m.segment(), 1L << 40, 0, false));
        }
    }

    @Test
    void scannerRejectsUseAfterClose() {
        PagemapScanner scanner = PagemapScanner.open();
        scanner.close();
        try (Mapping m = Memory.anonymous(PAGE)) {
            assertThrows(IllegalStateException.class, () -> scanner.scan(m.segment(), 0, 0, false));
            assertThrows(IllegalStateException.class, () -> scanner.isPresent(m.address(), PAGE));
        }
        scanner.close(); // idempotent
    }

    @Test
    void isPresentTakesNoLockAndIsRightOnManyThreadsAtOnce() throws Exception {
        try (Mapping m = Memory.anonymous(8 * PAGE); PagemapScanner scanner = PagemapScanner.open()) {
            for (int p = 0; p < 8; p += 2) {
                m.populateWrite(p * PAGE, PAGE);
            }
            // another thread holding the scanner's monitor must not stop isPresent (the fault path of handler threads)
            synchronized (scanner) {
                assertTrue(TestSupport.await(TestSupport.inThread("unlocked", () -> scanner.isPresent(m.address(), PAGE))));
            }
            int threads = 4;
            java.util.List<java.util.concurrent.Future<Long>> results = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                results.add(TestSupport.inThread("scanner-" + t, () -> {
                    long wrong = 0;
                    for (int i = 0; i < 40_000; i++) {
                        int p = i & 7;
                        boolean present = scanner.isPresent(m.address() + p * PAGE, PAGE);
                        if (present != ((p & 1) == 0)) {
                            wrong++;
                        }
                        if (scanner.isPresent(m.address(), 2 * PAGE)) {
                            wrong++;
                        }
                    }
                    return wrong;
                }));
            }
            // (whether isPresent allocates depends on when the JIT compiles it: the benchmarks'
            // allocation profile measures that, a test cannot assert it reliably)
            for (java.util.concurrent.Future<Long> r : results) {
                assertEquals(0L, r.get(60, java.util.concurrent.TimeUnit.SECONDS), "wrong answers");
            }
        }
    }
}
