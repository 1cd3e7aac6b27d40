package io.github.uffd4j.handler;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10 #2 and #9: close() is bounded even when every handler thread is stuck in its page
 * source while a REMOVE event is pending (nobody else stays blocked either), and handler threads
 * abandoned in an interruptible wait end at close.
 */
class ShutdownBoundsTest {

    @Test
    void closeIsBoundedWhenEveryHandlerIsInTheSourceAndARemoveIsPending() throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_REMOVE);
        TestSupport.assumeFeature(Feature.POISON);
        ChildJvm.Result r = ChildJvm.run(BusyHandlersChild.class, Duration.ofSeconds(40));
        System.out.println("busy handlers + pending REMOVE at close: " + r.summary());
        assertTrue(r.ok(), r.describe());
        assertTrue(r.output().contains("close returned"), r.describe());
        long closeMillis = Long.parseLong(r.output().replaceAll("(?s).*close returned after (\\d+) ms.*", "$1"));
        assertTrue(closeMillis <= BusyHandlersChild.CLOSE_TIMEOUT.toMillis() + 1_500,
                "close() took " + closeMillis + " ms with closeTimeout " + BusyHandlersChild.CLOSE_TIMEOUT + ": " + r.describe());
        assertTrue(r.output().contains("everyone returned"), r.describe());
        // the pages the readers waited for were never loaded: an error, never a silent zero page
        assertTrue(r.output().contains("reader-1: " + PageLoadException.class.getName()), r.describe());
        assertTrue(r.output().contains("reader-2: " + PageLoadException.class.getName()), r.describe());
    }

    /**
     * The child: two handler threads, both held by the source (which ignores interrupts for 6 s),
     * a raw madvise(MADV_DONTNEED) and a Region.reset elsewhere in the region (REMOVE events
     * nobody reads), then close() with a 1 s close timeout. Prints how long close took and what
     * the readers and the zappers got.
     */
    public static final class BusyHandlersChild {
        static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(1);

        public static void main(String[] args) throws Exception {
            CountDownLatch entered = new CountDownLatch(2);
            long stuckUntil = System.nanoTime() + 6_000_000_000L;
            Mapping m = Memory.anonymous(256 * PAGE);
            FaultService service = FaultService.builder().threads(2).faultAround(PAGE).closeTimeout(CLOSE_TIMEOUT)
                    .onFailure(f -> System.out.println("failure: " + f)).start();
            Region r = service.register(m, (offset, dst) -> {
                if (offset < 128 * PAGE && System.nanoTime() < stuckUntil) {
                    entered.countDown();
                    while (System.nanoTime() < stuckUntil) {
                        try {
                            Thread.sleep(10);
                        } catch (InterruptedException ignored) {
                            // a source that does not listen
                        }
                    }
                }
                Data.fill(3, offset, dst);
            });
            r.load(200 * PAGE, 8 * PAGE);   // pages to zap later
            Future<Object> reader1 = inThread("reader-1", () -> outcome(() -> r.load(0, 8)));
            // the second fault only once the first handler is inside the source: read together, both
            // faults would land in one handler's batch and the other handler would stay idle
            long firstDeadline = System.nanoTime() + 10_000_000_000L;
            while (entered.getCount() == 2 && System.nanoTime() < firstDeadline) {
                Thread.sleep(1);
            }
            Future<Object> reader2 = inThread("reader-2", () -> outcome(() -> r.load(64 * PAGE, 8)));
            if (!entered.await(10, TimeUnit.SECONDS)) {
                System.out.println("the source was not entered twice");
                System.exit(2);
            }
            Future<Object> zapper = inThread("zapper", () -> outcome(() -> Memory.dontNeed(m.address() + 200 * PAGE, 2 * PAGE)));
            Future<Object> resetter = inThread("resetter", () -> outcome(() -> r.reset(204 * PAGE, 2 * PAGE)));
            Thread.sleep(300);
            System.out.println("before close: zapper " + (zapper.isDone() ? "returned" : "blocked")
                    + ", resetter " + (resetter.isDone() ? "returned" : "blocked"));
            long t0 = System.nanoTime();
            service.close();
            System.out.println("close returned after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            // each get throws TimeoutException if that thread is still blocked
            System.out.println("reader-1: " + reader1.get(10, TimeUnit.SECONDS));
            System.out.println("reader-2: " + reader2.get(10, TimeUnit.SECONDS));
            System.out.println("zapper: " + zapper.get(10, TimeUnit.SECONDS));
            System.out.println("resetter: " + resetter.get(10, TimeUnit.SECONDS));
            System.out.println("everyone returned");
            System.exit(0);
        }

        private static Object outcome(Runnable r) {
            try {
                r.run();
                return "returned normally";
            } catch (RuntimeException e) {
                return e.toString();
            }
        }
    }

    @Test
    void aSourceSleepingPastCloseIsInterruptedAndItsThreadEnds() throws Exception {
        abandonedSourceThreadEndsAtClose(() -> Thread.sleep(600_000));
    }

    @Test
    void aSourceWaitingOnAQueueIsInterruptedAndItsThreadEnds() throws Exception {
        BlockingQueue<Object> never = new LinkedBlockingQueue<>();
        abandonedSourceThreadEndsAtClose(never::take);
    }

    private interface Wait {
        void await() throws InterruptedException;
    }

    private static void abandonedSourceThreadEndsAtClose(Wait wait) throws Exception {
        TestSupport.assumeFeature(Feature.POISON);
        CountDownLatch entered = new CountDownLatch(1);
        try (Mapping m = Memory.anonymous(16 * PAGE)) {
            FaultService service = FaultService.builder().threads(1).faultAround(PAGE)
                    .closeTimeout(Duration.ofMillis(300)).start();
            String prefix = "-" + service.uffd().fd();
            Region r = service.register(m, (offset, dst) -> {
                entered.countDown();
                wait.await();
            });
            Future<Object> reader = inThread("reader", () -> {
                try {
                    r.load(0, 8);
                    return "loaded";
                } catch (PageLoadException e) {
                    return e;
                }
            });
            assertTrue(entered.await(10, TimeUnit.SECONDS));
            TestSupport.await(inThread("closer", () -> {
                service.close();
                return null;
            }));
            long deadline = System.nanoTime() + 2_000_000_000L;
            List<String> alive;
            while (!(alive = serviceThreads(prefix)).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(List.of(), alive, "threads of the closed service still alive 2 s after close() returned");
            assertTrue(TestSupport.await(reader) instanceof PageLoadException);
        }
    }

    /** Live threads of the service whose userfaultfd had descriptor {@code fdSuffix} ("-N"). */
    private static List<String> serviceThreads(String fdSuffix) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("uffd4j-") && (n.endsWith(fdSuffix) || n.contains(fdSuffix + "-"))).toList();
    }
}
