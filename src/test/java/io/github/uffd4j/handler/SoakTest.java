package io.github.uffd4j.handler;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The soak of issue 10: {@link ZapWorkload} in a child JVM, cycle after cycle, on anonymous and
 * on shared memory: readers on the accessors, resets, external MADV_DONTNEED (and MADV_REMOVE on
 * shared memory), GC pressure, and close() at a random point of each cycle with the readers and
 * the resets still running. Required: no freeze, no wrong byte read while the segment was open,
 * every close() within the close timeout plus a second.
 *
 * <p>About 6 seconds per memory kind by default; {@code -Duffd4j.soak.seconds=N} runs N seconds
 * per kind instead.
 */
class SoakTest {

    @ParameterizedTest
    @ValueSource(strings = {"anon", "shared"})
    void accessorsZapsResetsGcsAndCloseAtRandomPoints(String memory) throws Exception {
        TestSupport.assumeFeature(Feature.EVENT_REMOVE);
        TestSupport.assumeFeature(Feature.POISON);
        if (memory.equals("shared")) {
            TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        }
        long seconds = Long.getLong("uffd4j.soak.seconds", 6);
        ChildJvm.Result r = ChildJvm.run(ZapWorkload.class, Duration.ofSeconds(seconds + 60), memory,
                Long.toString(seconds * 1000), "1500", "external", "close-while-running");
        System.out.println("soak " + memory + " " + seconds + " s: " + r.summary());
        assertTrue(r.ok(), r.describe());
        Map<String, Long> counts = AccessorSafetyTest.results(r.output());
        assertTrue(counts.get("cycles") >= 2, r::describe);
        assertTrue(counts.get("reads") > 0 && counts.get("resets") > 0 && counts.get("zaps") > 0, r::describe);
        assertEquals(0, counts.get("wrongOpen"), r::describe);
        assertEquals(0, counts.get("errorsOpen"), r::describe);
        assertEquals(0, counts.get("failuresOpen"), r::describe);
        assertEquals(0, counts.get("kernelErrors"), r::describe);
        assertEquals(0, counts.get("closesOverLimit"), r::describe);
    }
}
