package io.github.uffd4j.handler;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Counting: issue 11 defect 2 (retry counts stay exact under concurrent failures and timeouts),
 * defect 5 (stats() does not lag behind the data) and defect 6 (a large failure does not log a
 * line per page, while the listener sees each one).
 */
class AccountingTest {

    private static final long SEED = 41;

    /**
     * Every page fails its first {@code RETRIES} attempts (some by running past the timeout, the
     * rest by throwing), then loads: each page must see exactly RETRIES retries and RETRIES + 1
     * source calls, whatever the handler threads and the watchdog do concurrently.
     */
    @Test
    void retryCountsStayExactUnderConcurrentFailuresAndTimeouts() throws Exception {
        int retries = 3;
        int pages = 256;
        AtomicIntegerArray calls = new AtomicIntegerArray(pages);
        AtomicIntegerArray retried = new AtomicIntegerArray(pages);
        List<FaultFailure> others = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(pages * PAGE);
             FaultService service = FaultService.builder().threads(4).faultAround(PAGE)
                     .failurePolicy(new FailurePolicy(retries, Duration.ofMillis(200), FailurePolicy.Fallback.ZERO_PAGE))
                     .onFailure(f -> {
                         if (f.outcome() == FaultFailure.Outcome.RETRIED) {
                             retried.incrementAndGet((int) (f.offset() / PAGE));
                         } else {
                             others.add(f);
                         }
                     }).start()) {
            Region r = service.register(m, (offset, dst) -> {
                int p = (int) (offset / PAGE);
                int call = calls.incrementAndGet(p);
                if (call <= retries) {
                    if (p % 32 == 0 && call == 1) {
                        Thread.sleep(500);   // past the timeout: the watchdog fails this attempt
                    }
                    throw new IOException("attempt " + call + " at page " + p);
                }
                Data.fill(SEED, offset, dst);
            });
            List<Future<Object>> readers = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int first = t;
                readers.add(inThread("reader-" + t, () -> {
                    for (int p = first; p < pages; p += 8) {
                        r.load(p * PAGE, PAGE);
                    }
                    return null;
                }));
            }
            for (Future<Object> f : readers) {
                await(f);
            }
            assertEquals(List.of(), others, "no page may run out of retries");
            for (int p = 0; p < pages; p++) {
                assertEquals(retries, retried.get(p), "retries of page " + p);
                assertEquals(retries + 1, calls.get(p), "source calls for page " + p);
            }
            assertEquals((long) pages * retries, service.stats().failures());
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, pages * PAGE));
        }
    }

    /** Right after the last slice() of a scan returns, every page it loaded is counted. */
    @Test
    void statsCountThePagesByTheTimeTheScanReturns() {
        int pages = 4096;
        for (int run = 0; run < 4; run++) {
            try (LazySegment data = LazySegment.builder(pages * PAGE, Data.source(SEED)).threads(2).open()) {
                for (long o = 0; o < pages * PAGE; o += PAGE) {
                    data.slice(o, PAGE);
                }
                assertEquals(pages, data.stats().pagesLoaded(), "run " + run + ": " + data.stats());
            }
        }
        try (Mapping m = Memory.anonymous(pages * PAGE); FaultService service = FaultService.start()) {
            Region r = service.register(m, Data.source(SEED));
            for (long o = 0; o < pages * PAGE; o += 7 * PAGE) {
                r.load(o, Math.min(7 * PAGE, pages * PAGE - o));
            }
            assertEquals(pages, service.stats().pagesLoaded(), service.stats()::toString);
        }
    }

    /** 1,000 pages fail (zero-page fallback, so the load goes on): a few WARNING lines, a listener call per failure. */
    @Test
    void aLargeFailureLogsAFewLinesNotOnePerPage() {
        int pages = 1000;
        List<LogRecord> logged = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                    logged.add(record);
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger jul = Logger.getLogger(FaultService.class.getName());
        jul.addHandler(capture);
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(pages * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE).onFailure(failures::add)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(0).withFallback(FailurePolicy.Fallback.ZERO_PAGE)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                throw new IOException("the disk is gone");
            });
            r.load(0, pages * PAGE);
            // every page ends as a zero page; a page whose readahead block failed was first retried alone
            assertEquals(pages, failures.stream().filter(f -> f.outcome() == FaultFailure.Outcome.ZERO_PAGE).count());
            assertTrue(failures.stream().allMatch(f -> f.outcome() == FaultFailure.Outcome.ZERO_PAGE
                    || f.outcome() == FaultFailure.Outcome.RETRIED), failures::toString);
        } finally {
            jul.removeHandler(capture);
        }
        assertTrue(logged.size() >= 1, "the failure must be logged at all");
        assertTrue(logged.size() <= 5, logged.size() + " WARNING lines for " + pages + " failed pages");
    }
}
