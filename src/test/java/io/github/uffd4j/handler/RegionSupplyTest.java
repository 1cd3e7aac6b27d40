package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PagemapScanner;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Region.supply on shared memory served in MINOR mode (issue 15: the postcopy push into a shmem
 * target): the contents go into the page cache through the alias and the view is mapped with
 * UFFDIO_CONTINUE; pages loaded already, or mapped in the view before registration, are kept;
 * racing faults and the push install each page exactly once, every page whole. The memory is only
 * read through the kernel or the (unregistered) alias, or after the pages are mapped.
 */
class RegionSupplyTest {

    static final long SOURCE_SEED = 11;
    static final long PUSH_SEED = 29;

    @Test
    void supplyWritesThePageCacheMapsTheViewAndKeepsPagesLoadedAlready() {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        int pages = 64;
        try (SharedMemory sh = Memory.shared(pages * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE).backgroundFill(false).start();
             Arena arena = Arena.ofConfined();
             PagemapScanner pagemap = PagemapScanner.open()) {
            Region r = service.register(sh, Data.source(SOURCE_SEED));
            r.load(5 * PAGE, PAGE);                                  // page 5 from the source
            MemorySegment push = arena.allocate(pages * PAGE, PAGE);
            Data.fill(PUSH_SEED, 0, push);
            assertEquals(pages - 1, r.supply(0, push));
            assertTrue(r.isFullyLoaded(), r.toString());
            assertTrue(pagemap.isPresent(sh.view().address(), pages * PAGE), "supply left pages of the view unmapped");
            MemorySegment view = sh.view().segment();              // every page mapped: plain reads are safe now
            assertEquals(-1, Data.firstMismatch(SOURCE_SEED, view, 5 * PAGE, PAGE), "the page loaded first was overwritten");
            assertEquals(-1, Data.firstMismatch(PUSH_SEED, view, 0, 5 * PAGE));
            assertEquals(-1, Data.firstMismatch(PUSH_SEED, view, 6 * PAGE, (pages - 6) * PAGE));
            assertEquals(-1, Data.firstMismatch(PUSH_SEED, sh.alias().segment(), 6 * PAGE, (pages - 6) * PAGE),
                    "the page cache does not hold the pushed pages");
            assertEquals(0, r.supply(0, push), "a second push installed pages again");
        }
    }

    @Test
    void aPageMappedInTheViewBeforeRegistrationIsNeverOverwritten() {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        try (SharedMemory sh = Memory.shared(8 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE).backgroundFill(false).start();
             Arena arena = Arena.ofConfined()) {
            sh.view().segment().set(ValueLayout.JAVA_LONG, 3 * PAGE + 8, 0x5EED);  // not registered yet: a plain store
            Region r = service.register(sh, Data.source(SOURCE_SEED));
            MemorySegment push = arena.allocate(8 * PAGE, PAGE);
            Data.fill(PUSH_SEED, 0, push);
            assertEquals(7, r.supply(0, push));
            assertTrue(r.isPresent(3 * PAGE), "the page mapped before registration is not recorded present");
            MemorySegment page = arena.allocate(PAGE);
            Memory.readThroughKernel(sh.view().address() + 3 * PAGE, page);
            assertEquals(0x5EED, page.get(ValueLayout.JAVA_LONG, 8), "the page mapped before registration was overwritten");
            assertEquals(0, page.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    /**
     * Four threads fault random pages in (native loads) from a slow source while a fifth pushes
     * every page one at a time with the same bytes: each page is installed exactly once (by the
     * push or by a fault), every page whole; no thread is left waiting.
     */
    @Test
    void pushRacingFaultsInstallsEachPageOnceAndWhole() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        int pages = 2048;
        AtomicIntegerArray filled = new AtomicIntegerArray(pages);
        PageSource slow = (offset, dst) -> {
            java.util.concurrent.locks.LockSupport.parkNanos(100_000);
            for (long o = 0; o < dst.byteSize(); o += PAGE) {
                filled.incrementAndGet((int) ((offset + o) / PAGE));
            }
            Data.fill(SOURCE_SEED, offset, dst);
        };
        try (SharedMemory sh = Memory.shared(pages * PAGE);
             FaultService service = FaultService.builder().threads(2).faultAround(4 * PAGE).backgroundFill(false).start()) {
            // daemon threads, never joined without a limit: a thread left asleep in a fault fails the test, never hangs it
            var pool = java.util.concurrent.Executors.newFixedThreadPool(5, Thread.ofPlatform().daemon().factory());
            Region r = service.register(sh, slow);
            AtomicBoolean pushing = new AtomicBoolean(true);
            AtomicLong loads = new AtomicLong();
            List<Future<?>> jobs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                jobs.add(pool.submit(() -> {
                    ThreadLocalRandom rnd = ThreadLocalRandom.current();
                    while (pushing.get()) {
                        r.load(rnd.nextInt(pages) * PAGE, PAGE);
                        loads.incrementAndGet();
                    }
                    return null;
                }));
            }
            Future<Long> pushed = pool.submit(() -> {
                long n = 0;
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment page = arena.allocate(PAGE, PAGE);
                    for (int p = 0; p < pages; p++) {
                        Data.fill(SOURCE_SEED, p * PAGE, page);
                        n += r.supply(p * PAGE, page);
                    }
                } finally {
                    pushing.set(false);
                }
                return n;
            });
            long installed;
            try {
                installed = pushed.get(60, TimeUnit.SECONDS);
                for (Future<?> j : jobs) {
                    j.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pushing.set(false);
                pool.shutdownNow();
            }
            long fromSource = 0;
            for (int p = 0; p < pages; p++) {
                assertTrue(filled.get(p) <= 1, "page " + p + " was filled " + filled.get(p) + " times");
                fromSource += filled.get(p);
            }
            System.out.println("push racing faults on shmem: " + installed + " pages pushed, " + fromSource + " filled for "
                    + loads.get() + " loads, EEXIST " + service.stats().eexist());
            assertTrue(r.isFullyLoaded(), r.toString());
            assertEquals(pages, installed + fromSource, "pages installed by both sides or by neither");
            assertTrue(fromSource > 0 && installed > 0, "no race: one side installed every page");
            MemorySegment all = Arena.ofAuto().allocate(pages * PAGE, PAGE);
            Memory.readThroughKernel(sh.view().address(), all);
            assertEquals(-1, Data.firstMismatch(SOURCE_SEED, all, 0, pages * PAGE), "a page of the view is wrong");
            assertEquals(-1, Data.firstMismatch(SOURCE_SEED, sh.alias().segment(), 0, pages * PAGE), "a page of the page cache is wrong");
        }
    }
}
