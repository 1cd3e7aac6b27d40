package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several application threads against several handler threads and the background filler, with
 * random and sequential reads, over each kind of memory; every word read is checked, then every
 * page. Deterministic seeds; bounded by the operation counts, not by time.
 */
class StressTest {

    private static final int APP_THREADS = 4;
    private static final int HANDLER_THREADS = 3;
    private static final int OPS = 1500;

    enum Kind { ANONYMOUS, SHMEM_MINOR, HUGETLB }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void everyPageIsLoadedOnceAndReadsBackRight(Kind kind) throws Exception {
        long size;
        Mapping mapping = null;
        SharedMemory shared = null;
        switch (kind) {
            case ANONYMOUS -> {
                size = 64L << 20;
                mapping = Memory.anonymous(size);
            }
            case SHMEM_MINOR -> {
                TestSupport.assumeFeature(Feature.MINOR_SHMEM);
                size = 32L << 20;
                shared = Memory.shared(size);
            }
            default -> {
                TestSupport.assumeFeature(Feature.MISSING_HUGETLBFS);
                TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 16);
                size = 32L << 20;
                mapping = Memory.hugetlb(size, HugePageSize.SIZE_2MB);
            }
        }
        long seed = 1000 + kind.ordinal();
        long page = mapping != null ? mapping.pageSize() : shared.pageSize();
        AtomicIntegerArray fills = new AtomicIntegerArray((int) (size / page));
        PageSource source = Data.counting(seed, page, fills);
        try (FaultService service = FaultService.builder().threads(HANDLER_THREADS).batchSize(16)
                .faultAround(16 * 1024).maxReadahead(512 * 1024).backgroundFill(true).start()) {
            Region r = mapping != null ? service.register(mapping, source) : service.register(shared, source);

            round(r, seed, size, 1);
            assertTrue(service.awaitBackgroundFill(Duration.ofSeconds(60)), r::toString);
            checkAll(r, seed, size);
            FaultStats s = service.stats();
            for (int p = 0; p < fills.length(); p++) {
                assertEquals(1, fills.get(p), "page " + p + " was filled " + fills.get(p) + " times; " + s);
            }
            assertEquals(fills.length(), s.pagesLoaded() + s.backgroundPages(), s::toString);
            assertEquals(0, s.failures(), s::toString);

            // Drop a few ranges (REMOVE events reset the page state), then read everything again.
            SplittableRandom rnd = new SplittableRandom(seed);
            int pages = r.pageCount();
            for (int i = 0; i < 8; i++) {
                int p = rnd.nextInt(pages);
                int n = Math.min(pages - p, 1 + rnd.nextInt(64));
                r.reset(p * page, n * page);
            }
            round(r, seed, size, 2);
            r.load(0, size);
            checkAll(r, seed, size);
            assertEquals(0, service.stats().failures(), service.stats()::toString);
        } finally {
            if (mapping != null) {
                mapping.close();
            }
            if (shared != null) {
                shared.close();
            }
        }
    }

    /** APP_THREADS threads, each with its own seed, mixing random word reads and sequential runs. */
    private static void round(Region r, long seed, long size, int round) throws Exception {
        List<Future<Integer>> apps = new ArrayList<>();
        for (int t = 0; t < APP_THREADS; t++) {
            long threadSeed = seed * 31 + t * 7 + round;
            apps.add(inThread("app-" + t, () -> {
                SplittableRandom rnd = new SplittableRandom(threadSeed);
                MemorySegment mem = r.memory();
                int checked = 0;
                for (int op = 0; op < OPS; op++) {
                    if (rnd.nextInt(4) == 0) {
                        long start = rnd.nextLong(size / 8) * 8;
                        long len = Math.min(size - start, 8L * (1 + rnd.nextInt(8192)));
                        r.load(start, len);
                        for (long o = start; o < start + len; o += 8) {
                            check(mem, seed, o);
                            checked++;
                        }
                    } else {
                        long o = rnd.nextLong(size / 8) * 8;
                        r.load(o, 8);
                        check(mem, seed, o);
                        checked++;
                    }
                }
                return checked;
            }));
        }
        for (Future<Integer> f : apps) {
            assertTrue(await(f) >= OPS);
        }
    }

    private static void check(MemorySegment mem, long seed, long o) {
        long v = mem.get(ValueLayout.JAVA_LONG, o);
        if (v != Data.word(seed, o)) {
            throw new AssertionError("word at offset " + o + " is 0x" + Long.toHexString(v) + ", expected 0x"
                    + Long.toHexString(Data.word(seed, o)));
        }
    }

    private static void checkAll(Region r, long seed, long size) {
        assertTrue(r.isFullyLoaded(), r::toString);
        assertEquals(-1, Data.firstMismatch(seed, r.memory(), 0, size));
    }
}
