package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static io.github.uffd4j.TestSupport.touchRead;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The rules of ../shared/DESIGN.md section 3, each made to happen against the kernel. */
class CorrectnessRulesTest {

    private static final long SEED = 7;

    @Test
    void eexistFromTheFillIsAnsweredWithAWake() throws Exception {
        try (Mapping m = Memory.anonymous(16 * PAGE);
             Arena arena = Arena.ofShared();
             FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            MemorySegment other = TestSupport.pageOf(arena, PAGE, (byte) 0x5a);
            // The source maps the page itself first (as a racing second handler would): the
            // service's own COPY then meets EEXIST, and only a wake gets the faulting thread going.
            Region r = service.register(m, (offset, dst) -> {
                service.uffd().copy(m.address() + offset, other.address(), PAGE, io.github.uffd4j.Userfaultfd.DONT_WAKE);
                Data.fill(SEED, offset, dst);
            });
            Future<Byte> reader = inThread("reader", () -> TestSupport.readByte(m.segment(), 3 * PAGE));
            assertEquals((byte) 0x5a, await(reader));
            assertEquals(1, service.stats().eexist(), service.stats()::toString);
            // the reader faulted from its own madvise: the handler records the page just after waking it
            awaitTrue(() -> r.isPresent(3 * PAGE), r::toString);
        }
    }

    @Test
    void eagainMakesTheHandlerApplyThePendingEventsAndRetry() throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_REMOVE);
        CountDownLatch inSource = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean first = new AtomicBoolean(true);
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (first.getAndSet(false)) {
                    inSource.countDown();
                    release.await();
                }
                Data.fill(SEED, offset, dst);
            });
            Future<Long> reader = inThread("reader", () -> TestSupport.readLong(m.segment(), 2 * PAGE));
            assertTrue(inSource.await(10, TimeUnit.SECONDS));
            // With the only handler thread busy, MADV_DONTNEED elsewhere in the region raises a REMOVE
            // event nobody reads yet: the address space is "changing" and UFFDIO_COPY answers EAGAIN.
            Future<Integer> remover = inThread("remover", () -> Native.madvise(m.address() + 9 * PAGE, PAGE,
                    io.github.uffd4j.internal.gen.UffdNative.MADV_DONTNEED()));
            Thread.sleep(200);
            release.countDown();
            assertEquals(Data.word(SEED, 2 * PAGE), await(reader));
            assertEquals(0, await(remover));
            FaultStats s = service.stats();
            assertTrue(s.eagain() >= 1, s::toString);
            assertTrue(s.events() >= 1, s::toString);
            awaitTrue(() -> r.isPresent(2 * PAGE), r::toString);
        }
    }

    @Test
    void removeResetsThePageStateSoLaterFaultsLoadAgain() throws Exception {
        AtomicIntegerArray perPage = new AtomicIntegerArray(16);
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(4 * PAGE).maxReadahead(4 * PAGE).start()) {
            Region r = service.register(m, Data.counting(SEED, PAGE, perPage));
            r.load(0, 8 * PAGE);
            // the kernel wakes the reader before the handler thread records the pages as present
            awaitTrue(() -> r.presentPages() >= 8, r::toString);
            m.dontNeed(0, 4 * PAGE);
            awaitTrue(() -> r.presentPages() == 4, () -> r + " " + service.stats());
            assertFalse(r.isPresent(0));
            r.load(0, 8 * PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, 8 * PAGE));
            for (int p = 0; p < 8; p++) {
                assertEquals(p < 4 ? 2 : 1, perPage.get(p), "fills of page " + p);
            }
            // Region.reset does the same, synchronously
            awaitTrue(() -> r.isPresent(0), r::toString);
            int before = r.presentPages();
            r.reset(4 * PAGE, 4 * PAGE);
            assertEquals(before - 4, r.presentPages());
            r.load(4 * PAGE, 4 * PAGE);
            assertEquals(2, perPage.get(5));
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, 8 * PAGE));
        }
    }

    @Test
    void unmapDropsTheRangeAndTheRestIsStillServed() throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_UNMAP);
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Region r = service.register(m, Data.source(SEED));
            r.load(0, PAGE);
            // munmap waits until a handler thread has read the UNMAP event: it must not hang
            Future<Integer> unmapper = inThread("unmapper", () -> Native.munmap(m.address() + 8 * PAGE, 8 * PAGE));
            assertEquals(0, await(unmapper));
            awaitTrue(() -> service.stats().events() >= 1, () -> service.stats().toString());
            PageLoadException e = assertThrows(PageLoadException.class, () -> r.load(9 * PAGE, 8));
            assertTrue(e.getMessage().contains("unmapped"), e::getMessage);
            r.load(4 * PAGE, 4 * PAGE);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 0, 8 * PAGE));
        }
    }

    @Test
    void remapMovesTheRegion() throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_REMAP);
        try (FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Mapping m = Memory.anonymous(16 * PAGE);
            Region r = service.register(m, Data.source(SEED));
            r.load(0, PAGE);
            Future<Mapping> mover = inThread("mover", () -> m.remap(16 * PAGE));
            Mapping moved = await(mover);
            try {
                awaitTrue(() -> r.address() == moved.address(), r::toString);
                r.load(5 * PAGE, PAGE);
                assertEquals(-1, Data.firstMismatch(SEED, moved.segment(), 0, PAGE));
                assertEquals(-1, Data.firstMismatch(SEED, moved.segment(), 5 * PAGE, PAGE));
            } finally {
                service.unregister(r);
                moved.close();
            }
        }
    }

    @Test
    void aHandlerThreadFaultingOnItsOwnRegionIsReportedNotDeadlocked() throws Exception {
        TestSupport.assumeFeature(Feature.THREAD_ID);
        TestSupport.assumeFeature(Feature.POISON);
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(64 * PAGE);
             FaultService service = FaultService.builder().threads(2).faultAround(PAGE)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(1)).onFailure(failures::add).start()) {
            // A buggy source that reads its own region (from native code, as a FileChannel read would).
            Region r = service.register(m, (offset, dst) -> {
                touchRead(m.address() + 40 * PAGE, 8);
                Data.fill(SEED, offset, dst);
            });
            PageLoadException e = assertThrows(PageLoadException.class, () -> r.load(0, 8));
            assertTrue(service.stats().selfFaults() >= 1, service.stats()::toString);
            assertTrue(failures.stream().anyMatch(f -> f.kind() == FaultFailure.Kind.SELF_FAULT), failures::toString);
            assertTrue(String.valueOf(r.failure(40 * PAGE).orElseThrow().cause()).contains("its own region"),
                    () -> r.failure(40 * PAGE).toString());
            assertTrue(e.getMessage().contains("could not be loaded"), e::getMessage);
        }
    }

    @Test
    void aSelfFaultWithASingleHandlerThreadIsCaughtByTheWatchdog() throws Exception {
        TestSupport.assumeFeature(Feature.THREAD_ID);
        TestSupport.assumeFeature(Feature.POISON);
        try (Mapping m = Memory.anonymous(64 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE)
                     .failurePolicy(new FailurePolicy(0, Duration.ofMillis(300), FailurePolicy.Fallback.ERROR)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                touchRead(m.address() + 40 * PAGE, 8);
                Data.fill(SEED, offset, dst);
            });
            assertThrows(PageLoadException.class, () -> r.load(0, 8));
            // the replacement thread reads the stuck thread's fault just after the reader was failed
            awaitTrue(() -> service.stats().selfFaults() >= 1, () -> service.stats().toString());
            assertTrue(service.stats().timeouts() >= 1, service.stats()::toString);
        }
    }

    static void awaitTrue(java.util.function.BooleanSupplier condition, java.util.function.Supplier<String> what) throws InterruptedException {
        long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within " + TestSupport.WAIT + ": " + what.get());
            }
            Thread.sleep(5);
        }
    }
}
