package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a page source may do to the pages: issue 10 #3 (a late, abandoned attempt in MINOR mode
 * never changes a page already served), #6 and issue 11 defect 4 (what a source leaves unwritten
 * reads as zeros, never another page's or region's bytes), #10 (an interrupt a source leaves
 * behind does not fail the next fill).
 */
class SourceContractTest {

    private static final long SEED = 21;

    /** The first attempt at page 0 sleeps past the timeout (ignoring interrupts), then writes 0xee: too late. */
    private static PageSource lateWriterThenGood(CountDownLatch lateWritten) {
        AtomicInteger calls = new AtomicInteger();
        return (offset, dst) -> {
            if (offset == 0 && calls.getAndIncrement() == 0) {
                long until = System.nanoTime() + 700_000_000L;
                while (System.nanoTime() < until) {
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException ignored) {
                        // keep going: the point is a write after the attempt was abandoned
                    }
                }
                dst.fill((byte) 0xee);
                lateWritten.countDown();
                return;
            }
            Data.fill(SEED, offset, dst);
        };
    }

    @Test
    void aLateAttemptInMinorModeNeverChangesAServedPage() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        CountDownLatch lateWritten = new CountDownLatch(1);
        try (LazySegment data = LazySegment.builder(16 * PAGE, lateWriterThenGood(lateWritten)).shared(true).threads(1)
                .faultAround(PAGE).failurePolicy(new FailurePolicy(2, Duration.ofMillis(200), FailurePolicy.Fallback.ZERO_PAGE))
                .open()) {
            assertEquals(Data.word(SEED, 0), data.getLong(0), "the retry serves the page");
            assertTrue(lateWritten.await(10, TimeUnit.SECONDS));
            Thread.sleep(100);
            assertServedPageKept(data.segment().address(), data.sharedMemory().alias().segment());
            assertEquals(1, data.stats().timeouts());
        }
    }

    @Test
    void aLateAttemptOnRegisteredSharedMemoryNeverChangesAServedPage() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        CountDownLatch lateWritten = new CountDownLatch(1);
        try (SharedMemory sh = Memory.shared(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE)
                     .failurePolicy(new FailurePolicy(2, Duration.ofMillis(200), FailurePolicy.Fallback.ZERO_PAGE)).start()) {
            Region r = service.register(sh, lateWriterThenGood(lateWritten));
            r.load(0, PAGE);
            assertTrue(lateWritten.await(10, TimeUnit.SECONDS));
            Thread.sleep(100);
            assertServedPageKept(sh.view().address(), sh.alias().segment());
            assertEquals(1, service.stats().timeouts());
            // and after a zap, the page cache still holds the retry's bytes
            r.reset(0, PAGE);
            r.load(0, PAGE);
            assertServedPageKept(sh.view().address(), sh.alias().segment());
        }
    }

    private static void assertServedPageKept(long viewAddress, MemorySegment alias) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(PAGE);
            Memory.readThroughKernel(viewAddress, page);
            assertEquals(-1, Data.firstMismatch(SEED, page, 0, PAGE), "the served page changed (0xee is the late attempt's)");
        }
        assertEquals(-1, Data.firstMismatch(SEED, alias, 0, PAGE), "the page cache changed");
    }

    /** One handler thread, so one staging buffer: region A's bytes must not show through in region B. */
    @Test
    void whatASourceLeavesUnwrittenReadsAsZerosNotAnotherRegionsBytes() {
        try (Mapping a = Memory.anonymous(16 * PAGE);
             Mapping b = Memory.anonymous(16 * PAGE);
             Mapping c = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE).maxReadahead(PAGE).start()) {
            Region ra = service.register(a, (offset, dst) -> dst.fill((byte) 0xab));
            Region rb = service.register(b, (offset, dst) -> dst.asSlice(0, 100).fill((byte) 0x5c));   // 100 bytes only
            Region rc = service.register(c, (offset, dst) -> { });                                       // nothing at all
            ra.load(0, 16 * PAGE);
            rb.load(0, 16 * PAGE);
            ra.reset(0, 16 * PAGE);
            ra.load(0, 16 * PAGE);
            rc.load(0, 16 * PAGE);
            assertEquals(-1L, c.segment().asSlice(0, 16 * PAGE).mismatch(MemorySegment.ofArray(new byte[(int) (16 * PAGE)])),
                    "region C's source wrote nothing: zeros");
            for (long i = 0; i < 16 * PAGE; i++) {
                byte expected = i % PAGE < 100 ? (byte) 0x5c : 0;
                if (b.segment().get(ValueLayout.JAVA_BYTE, i) != expected) {
                    assertEquals(expected, b.segment().get(ValueLayout.JAVA_BYTE, i), "byte " + i + " of region B");
                }
            }
        }
    }

    /** The README's FileChannel source over a file shorter than the segment: zeros past its end, in both modes. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theReadmeFileSourceReadsZerosPastTheEndOfTheFile(boolean shared) throws Exception {
        if (shared) {
            TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        }
        long fileSize = 512 * 1024;
        long size = 1 << 20;
        Path dataset = Files.createTempFile("uffd4j-short", ".bin");
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try {
            try (FileChannel w = FileChannel.open(dataset, StandardOpenOption.WRITE)) {
                ByteBuffer ab = ByteBuffer.allocate((int) fileSize);
                while (ab.hasRemaining()) {
                    ab.put((byte) 0xab);
                }
                w.write(ab.flip(), 0);
            }
            PageSource source = (offset, dst) -> {            // as in README.md
                try (FileChannel f = FileChannel.open(dataset)) {
                    f.read(dst.asByteBuffer(), offset);
                }
            };
            try (LazySegment data = LazySegment.builder(size, source).shared(shared).onFailure(failures::add).open();
                 Arena arena = Arena.ofConfined()) {
                assertEquals((byte) 0xab, data.getByte(0));         // fills the staging buffer with 0xab first
                assertEquals(0L, data.getLong(fileSize + 8));
                MemorySegment all = arena.allocate(size);
                data.copyTo(0, all);
                for (long i = 0; i < size; i++) {
                    byte expected = i < fileSize ? (byte) 0xab : 0;
                    if (all.get(ValueLayout.JAVA_BYTE, i) != expected) {
                        assertEquals(expected, all.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
                    }
                }
            }
            assertEquals(List.of(), failures);
        } finally {
            Files.delete(dataset);
        }
    }

    /** The first fill interrupts its own thread; the next, unrelated fill on that thread sleeps, which must not throw. */
    @Test
    void anInterruptASourceLeavesDoesNotFailTheNextFill() {
        List<FaultFailure> failures = new CopyOnWriteArrayList<>();
        try (Mapping m = Memory.anonymous(16 * PAGE);
             FaultService service = FaultService.builder().threads(1).faultAround(PAGE).onFailure(failures::add)
                     .failurePolicy(FailurePolicy.DEFAULT.withRetries(0).withFallback(FailurePolicy.Fallback.ZERO_PAGE)).start()) {
            Region r = service.register(m, (offset, dst) -> {
                if (offset == 0) {
                    Thread.currentThread().interrupt();
                } else {
                    Thread.sleep(1);
                }
                Data.fill(SEED, offset, dst);
            });
            r.load(0, PAGE);
            r.load(5 * PAGE, PAGE);
            assertEquals(List.of(), failures);
            assertEquals(-1, Data.firstMismatch(SEED, m.segment(), 5 * PAGE, PAGE));
        }
    }

    /** A source that writes 0x5a everywhere and notes whether each destination came to it all zeros. */
    private record Marking(boolean everyByte, List<Boolean> zeroedOnEntry) implements PageSource {
        @Override
        public void fill(long offset, MemorySegment destination) {
            zeroedOnEntry.add(destination.mismatch(MemorySegment.ofArray(new byte[(int) destination.byteSize()])) == -1);
            destination.fill((byte) 0x5a);
        }

        @Override
        public boolean writesEveryByte() {
            return everyByte;
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theDestinationIsZeroedUnlessTheSourceSaysItWritesEveryByte(boolean everyByte) throws Exception {
        Marking src = new Marking(everyByte, new CopyOnWriteArrayList<>());
        try (LazySegment lazy = LazySegment.builder(64 * PAGE, src).threads(1).backgroundFill(false).faultAround(PAGE)
                .maxReadahead(PAGE).open()) {
            for (int p = 0; p < 64; p += 2) { // every other page: no readahead, one call per page
                assertEquals((byte) 0x5a, lazy.getByte((long) p * PAGE + 7));
            }
        }
        assertEquals(32, src.zeroedOnEntry().size());
        assertTrue(src.zeroedOnEntry().get(0), "the first buffer is fresh memory");
        long notZeroed = src.zeroedOnEntry().stream().filter(z -> !z).count();
        if (everyByte) {
            assertTrue(notZeroed > 0, "the runtime still zeroes for a source that writes every byte");
        } else {
            assertEquals(0, notZeroed, "a destination came with another page's bytes");
        }
    }
}
