package io.github.uffd4j.handler;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A region's life: issue 11 defect 1 (after a REMAP, memory() and the write hook's page are at
 * the new address), issue 10 #13 (an unregistered region refuses work), #15 (a size too large is
 * a clear error) and #11 (failed starts and opens leave no descriptor open).
 */
class RegionLifecycleTest {

    private static final long SEED = 31;

    @Test
    void afterARemapTheRegionsMemoryAndTheWriteHooksPageAreAtTheNewAddress() throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_REMAP);
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        List<MemorySegment> hooked = new CopyOnWriteArrayList<>();
        List<Long> oldWords = new CopyOnWriteArrayList<>();
        try (FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Mapping m = Memory.anonymous(16 * PAGE);
            Region r = service.region(m.segment()).source(Data.source(SEED)).writeProtect((region, offset, page) -> {
                hooked.add(page);
                oldWords.add(page.get(ValueLayout.JAVA_LONG, 0));
            }).register();
            r.load(0, 4 * PAGE);
            // mremap to an address made free just before (a same-size remap without one may not move at all);
            // the mover thread exists first, so that its stack does not take the hole
            java.util.concurrent.CompletableFuture<Long> target = new java.util.concurrent.CompletableFuture<>();
            java.util.concurrent.Future<Mapping> mover = inThread("mover", () -> m.remap(16 * PAGE, target.get()));
            Mapping free = Memory.anonymous(16 * PAGE);
            free.close();
            target.complete(free.address());
            Mapping moved = await(mover);
            try {
                assertEquals(target.get(), moved.address());
                CorrectnessRulesTest.awaitTrue(() -> r.address() == moved.address(), r::toString);
                assertEquals(moved.address(), r.memory().address(), "Region.memory() after the REMAP");
                assertEquals(16 * PAGE, r.memory().byteSize());
                r.writeProtect(0, 4 * PAGE);
                TestSupport.touchWrite(moved.address() + 2 * PAGE, 0x77);
                assertEquals(1, hooked.size());
                assertEquals(moved.address() + 2 * PAGE, hooked.getFirst().address(), "the hook's page after the REMAP");
                assertEquals(List.of(Data.word(SEED, 2 * PAGE)), oldWords);
                assertEquals(0x77, TestSupport.readLong(r.memory(), 2 * PAGE));
            } finally {
                service.unregister(r);
                moved.close();
            }
        }
    }

    @Test
    void anUnregisteredRegionRefusesLoadResetAndWriteProtect() {
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        try (Mapping m = Memory.anonymous(16 * PAGE); FaultService service = FaultService.builder().faultAround(PAGE).start()) {
            Region r = service.region(m.segment()).source(Data.source(SEED)).writeProtect((region, offset, page) -> { })
                    .register();
            r.load(0, PAGE);
            service.unregister(r);
            assertFalse(r.isServed());
            assertThrows(PageLoadException.class, () -> r.load(8 * PAGE, PAGE), "a page never loaded");
            assertThrows(PageLoadException.class, () -> r.load(0, PAGE), "a page loaded before");
            assertThrows(IllegalStateException.class, () -> r.reset(0, PAGE));
            assertThrows(IllegalStateException.class, () -> r.writeProtect(0, PAGE));
            assertThrows(IllegalArgumentException.class, () -> service.unregister(r));
        }
    }

    @Test
    void aSizeTooLargeIsAClearError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LazySegment.open(Long.MAX_VALUE, Data.source(SEED)));
        assertTrue(e.getMessage().contains(Long.toString(Long.MAX_VALUE)), e::getMessage);
        assertFalse(e.getMessage().matches("(?s).*-\\d.*"), "a negative size in: " + e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LazySegment.open(0, Data.source(SEED)));
        assertThrows(IllegalArgumentException.class, () -> LazySegment.open(-PAGE, Data.source(SEED)));
    }

    /** The mapping fails (not enough huge pages for 1 TiB) after the service started: nothing may stay open. */
    @Test
    void aLazySegmentThatCannotMapItsMemoryLeavesNoDescriptorOpen() throws Exception {
        List<String> before = openDescriptors();
        for (int i = 0; i < 10; i++) {
            boolean shared = i % 2 == 1;
            assertThrows(RuntimeException.class,
                    () -> LazySegment.builder(1L << 40, Data.source(SEED)).hugePages(HugePageSize.SIZE_2MB).shared(shared).open());
        }
        assertEquals(before, openDescriptors());
        ShutdownTest.awaitNoServiceThreads();
    }

    /** FaultService.start() and LazySegment.open() with only k descriptors left (RLIMIT_NOFILE), in a child JVM. */
    @Test
    void startsThatRunOutOfDescriptorsLeaveNoneOpen() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        ChildJvm.Result r = ChildJvm.run(DescriptorLimitChild.class, Duration.ofSeconds(60));
        System.out.println("starts with few descriptors left: " + r.summary());
        assertTrue(r.ok(), r.describe());
        assertTrue(r.output().contains("failed with EMFILE-like errors: "), r.describe());
        assertFalse(r.output().contains("LEAK"), r.describe());
        assertTrue(r.output().contains("done"), r.describe());
    }

    static List<String> openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(p -> {
                try {
                    return p.getFileName() + " -> " + Files.readSymbolicLink(p);
                } catch (IOException gone) {
                    return null;   // the directory's own descriptor, closed by now
                }
            }).filter(s -> s != null).sorted().toList();
        }
    }
}
