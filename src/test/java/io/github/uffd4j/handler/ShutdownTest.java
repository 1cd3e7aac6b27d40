package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShutdownTest {

    private static final long SEED = 5;

    @Test
    void closeFailsTheFaultsItCannotServeAndNoThreadIsLeftAsleep() throws Exception {
        TestSupport.assumeFeature(Feature.POISON);
        CountDownLatch never = new CountDownLatch(1);
        CountDownLatch entered = new CountDownLatch(1);
        try (Mapping m = Memory.anonymous(64 * PAGE)) {
            FaultService service = FaultService.builder().threads(2).faultAround(PAGE).closeTimeout(Duration.ofMillis(300)).start();
            Region r = service.register(m, (offset, dst) -> {
                entered.countDown();
                never.await();
            });
            List<Future<Object>> readers = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long off = i * 8 * PAGE;
                readers.add(inThread("reader-" + i, () -> {
                    try {
                        r.load(off, 8);
                        return "loaded";
                    } catch (PageLoadException e) {
                        return e;
                    }
                }));
            }
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            Thread.sleep(100);
            long t0 = System.nanoTime();
            service.close();
            long closeMillis = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(closeMillis < 5_000, "close took " + closeMillis + " ms");
            for (Future<Object> f : readers) {
                assertInstanceOf(PageLoadException.class, await(f));
            }
            // pages never loaded are poisoned: a late access fails instead of reading zeros
            long rc = Native.madvise(m.address() + 50 * PAGE, PAGE, UffdNative.MADV_POPULATE_READ());
            assertNotEquals(0, rc);
            assertTrue(service.isClosed());
        } finally {
            never.countDown();
        }
        awaitNoServiceThreads();
    }

    @Test
    void closeServesPendingFaultsWhenTheSourceIsMerelySlow() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        try (Mapping m = Memory.anonymous(64 * PAGE)) {
            FaultService service = FaultService.builder().threads(1).faultAround(PAGE).start();
            Region r = service.register(m, (offset, dst) -> {
                entered.countDown();
                Thread.sleep(300);
                Data.fill(SEED, offset, dst);
            });
            Future<Long> reader = inThread("reader", () -> TestSupport.readLong(m.segment(), 3 * PAGE));
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            service.close();
            assertEquals(Data.word(SEED, 3 * PAGE), await(reader));
        }
        awaitNoServiceThreads();
    }

    @Test
    void closeIsIdempotentAndRegisterAfterCloseIsRefused() {
        FaultService service = FaultService.start();
        service.close();
        service.close();
        try (Mapping m = Memory.anonymous(4 * PAGE)) {
            assertThrows(IllegalStateException.class, () -> service.register(m, Data.source(1)));
        }
    }

    @Test
    void closingAServiceWithNoFaultsIsQuick() {
        FaultService service = FaultService.builder().threads(4).start();
        long t0 = System.nanoTime();
        service.close();
        assertTrue((System.nanoTime() - t0) < Duration.ofSeconds(3).toNanos());
    }

    static void awaitNoServiceThreads() throws InterruptedException {
        long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
        for (;;) {
            List<String> alive = Thread.getAllStackTraces().keySet().stream()
                    .map(Thread::getName).filter(n -> n.startsWith("uffd4j-")).toList();
            if (alive.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("service threads still alive: " + alive);
            }
            Thread.sleep(10);
        }
    }
}
