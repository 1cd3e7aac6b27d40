package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FailurePolicyTest {

    private static final long SEED = 11;

    @BeforeEach
    void needPoison() {
        TestSupport.assumeFeature(Feature.POISON);
    }

    @Test
    void aSourceThatAlwaysThrowsIsRetriedThenTheReaderGetsTheError() {
        AtomicInteger calls = new AtomicInteger();
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(4 * PAGE).onFailure(failures::add).start()) {
            Region r = service.register(m, (offset, dst) -> {
                calls.incrementAndGet();
                throw new IOException("disk on fire at " + offset);
            });
            PageLoadException e = assertThrows(PageLoadException.class, () -> r.load(5 * PAGE, 8));
            assertInstanceOf(IOException.class, e.getCause());
            assertEquals(5 * PAGE, e.offset());
            assertEquals(3, calls.get(), "one attempt and two retries");
            assertEquals(List.of(FaultFailure.Outcome.RETRIED, FaultFailure.Outcome.RETRIED, FaultFailure.Outcome.ERROR),
                    failures.stream().map(FaultFailure::outcome).toList());
            assertEquals(3, service.stats().failures());
            // the failure sticks (the page is poisoned) until reset, and other pages still work
            assertThrows(PageLoadException.class, () -> r.load(5 * PAGE, 8));
            assertEquals(3, calls.get());
        }
    }

    /** Loads every page of 16 one by one and returns the pages that failed. */
    private static List<Integer> failedPages(Region r) {
        List<Integer> failed = new java.util.ArrayList<>();
        for (int p = 0; p < 16; p++) {
            try {
                r.load(p * PAGE, 8);
            } catch (PageLoadException e) {
                failed.add(p);
            }
        }
        return failed;
    }

    @Test
    void aPageThatFailsInsideABlockFailsOnlyItselfEvenWithoutRetries() {
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(16 * PAGE)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(0)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (offset <= 7 * PAGE && 7 * PAGE < offset + dst.byteSize()) {
                    throw new IOException("page 7 is unreadable");
                }
                Data.fill(SEED, offset, dst);
            });
            assertEquals(List.of(7), failedPages(r));
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, 7 * PAGE));
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 8 * PAGE, 8 * PAGE));
        }
    }

    @Test
    void aPageWhoseSourceHangsInsideABlockTimesOutAloneAndItsNeighboursLoad() {
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(16 * PAGE)
                     .failurePolicy(new FailurePolicy(0, Duration.ofMillis(300), FailurePolicy.Fallback.ERROR)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (offset <= 7 * PAGE && 7 * PAGE < offset + dst.byteSize()) {
                    Thread.sleep(60_000);
                }
                Data.fill(SEED, offset, dst);
            });
            assertEquals(List.of(7), failedPages(r));
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, 7 * PAGE));
        }
    }

    @Test
    void aSourceThatRecoversWithinTheRetriesDeliversTheData() {
        AtomicInteger calls = new AtomicInteger();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (calls.incrementAndGet() <= 2) {
                    throw new IOException("flaky");
                }
                Data.fill(SEED, offset, dst);
            });
            r.load(0, PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, PAGE));
            assertEquals(2, service.stats().failures());
        }
    }

    @Test
    void resetLetsAFailedPageBeTriedAgain() {
        AtomicInteger calls = new AtomicInteger();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(0)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (calls.incrementAndGet() == 1) {
                    throw new IOException("first time only");
                }
                Data.fill(SEED, offset, dst);
            });
            assertThrows(PageLoadException.class, () -> r.load(0, PAGE));
            r.reset(0, PAGE);
            r.load(0, PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, PAGE));
        }
    }

    @Test
    void theZeroPageFallbackLetsTheReaderGoOnWithZeros() {
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE).onFailure(failures::add)
                     .failurePolicy(new FailurePolicy(1, Duration.ofSeconds(5), FailurePolicy.Fallback.ZERO_PAGE)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                throw new IllegalStateException("no data for " + offset);
            });
            r.load(2 * PAGE, PAGE);
            assertEquals(0L, TestSupport.readLong(m.segment(), 2 * PAGE));
            assertEquals(FaultFailure.Outcome.ZERO_PAGE, failures.getLast().outcome());
            assertEquals(2, service.stats().failures());
        }
    }

    @Test
    void aSourceThatBlocksPastItsTimeoutIsAbandonedAndTheReaderGetsAnError() throws Exception {
        CountDownLatch never = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE)
                     .failurePolicy(new FailurePolicy(1, Duration.ofMillis(200), FailurePolicy.Fallback.ERROR)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                calls.incrementAndGet();
                never.await();
            });
            PageLoadException e = assertThrows(PageLoadException.class, () -> r.load(0, 8));
            assertInstanceOf(java.util.concurrent.TimeoutException.class, e.getCause());
            assertEquals(2, calls.get(), "the first attempt and one retry, each on a fresh thread");
            assertEquals(2, service.stats().timeouts());
            // the service still serves other pages with the replacement threads... once the source works
        } finally {
            never.countDown();
        }
    }

    @Test
    void aTimedOutAttemptIsRetriedByAFreshThreadAndItsLateResultDropped() throws Exception {
        CountDownLatch late = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE)
                     .failurePolicy(new FailurePolicy(2, Duration.ofMillis(200), FailurePolicy.Fallback.ERROR)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (calls.incrementAndGet() == 1) {
                    late.await();
                    dst.fill((byte) 0x66);   // a late result that must not become the page
                    return;
                }
                Data.fill(SEED, offset, dst);
            });
            r.load(0, 8);
            late.countDown();
            Thread.sleep(100);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, PAGE));
            assertEquals(1, service.stats().timeouts());
        }
    }

    @Test
    void aFaultHandlerThatReturnsWithoutResolvingIsAFailureNotAHang() {
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().onFailure(failures::add)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(0)).start()) {
            Region r = service.region(m.segment()).handler(fault -> { }).register();
            assertThrows(PageLoadException.class, () -> r.load(0, 8));
            assertEquals(FaultFailure.Kind.NOT_RESOLVED, failures.getLast().kind());
        }
    }

    @Test
    void aFaultHandlerResolvesFaultsItsOwnWay() {
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.start()) {
            Region r = service.region(m.segment()).handler(fault -> {
                if (fault.offset() % (2 * PAGE) == 0) {
                    Data.fill(SEED, fault.offset(), fault.staging());
                    fault.copy(fault.staging());
                } else {
                    fault.zero();
                }
            }).register();
            r.load(0, 4 * PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, PAGE));
            assertEquals(0L, m.segment().get(java.lang.foreign.ValueLayout.JAVA_LONG, PAGE + 64));
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 2 * PAGE, PAGE));
        }
    }

    @Test
    void theErrorFallbackNeedsPoisonAndTheBuilderChecksItsArguments() {
        assertThrows(IllegalArgumentException.class, () -> new FailurePolicy(-1, Duration.ofSeconds(1), FailurePolicy.Fallback.ERROR));
        assertThrows(IllegalArgumentException.class, () -> new FailurePolicy(1, Duration.ZERO, FailurePolicy.Fallback.ERROR));
        assertThrows(IllegalArgumentException.class, () -> FaultService.builder().threads(0));
        assertThrows(IllegalArgumentException.class, () -> FaultService.builder().batchSize(0));
        try (FaultService service = FaultService.start(); Mapping m = Memory.anonymous(4 * PAGE)) {
            assertThrows(IllegalArgumentException.class, () -> service.region(m.segment()).register());
            assertThrows(IllegalArgumentException.class,
                    () -> service.region(java.lang.foreign.MemorySegment.ofArray(new byte[4096])).source(Data.source(1)).register());
            assertThrows(IllegalArgumentException.class,
                    () -> service.region(m.segment().asSlice(1, PAGE)).source(Data.source(1)).register());
            service.register(m, Data.source(1));
            assertThrows(IllegalArgumentException.class, () -> service.register(m, Data.source(1)));
        }
    }
}
