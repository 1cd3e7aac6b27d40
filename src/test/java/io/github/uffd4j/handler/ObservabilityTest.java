package io.github.uffd4j.handler;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ObservabilityTest {

    @Test
    void countersAndTheLatencyHistogramFollowTheFaults() throws Exception {
        try (Mapping m = Memory.anonymous(64 * PAGE);
             FaultService service = FaultService.builder().faultAround(4 * PAGE).maxReadahead(4 * PAGE).start()) {
            Region r = service.register(m, Data.source(3));
            for (int i = 0; i < 8; i++) {
                r.load(i * 8 * PAGE, 8);
            }
            // the handler threads count a fault just after the kernel has woken its thread
            CorrectnessRulesTest.awaitTrue(() -> service.stats().pagesLoaded() == 32 && service.stats().latency().count() == 8,
                    () -> service.stats().toString());
            FaultStats s = service.stats();
            assertEquals(8, s.faults());
            assertEquals(8, s.sourceCalls());
            assertEquals(32 * PAGE, s.bytesLoaded());
            assertEquals(8, s.latency().count());
            assertTrue(s.latency().percentile(50) > 0 && s.latency().percentile(50) <= s.latency().max());
        }
    }

    @Test
    void theHistogramKnowsEachValueWithinAnEighth() {
        LatencyHistogram h = new LatencyHistogram();
        for (long v = 1; v < 10_000_000; v = v * 3 + 1) {
            h.record(v);
            long bound = LatencyHistogram.upperBound(LatencyHistogram.bucket(v));
            assertTrue(bound >= v && bound <= v + v / 8 + 1, v + " -> " + bound);
        }
        LatencySnapshot s = h.snapshot();
        assertTrue(s.percentile(0) >= 1);
        assertTrue(s.max() >= 7_000_000);
        assertThrows(IllegalArgumentException.class, () -> s.percentile(101));
    }

    @Test
    void jfrRecordsFaultBatchesAndFailures() throws Exception {
        TestSupport.assumeFeature(Feature.POISON);
        Path file = Files.createTempFile("uffd4j", ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("io.github.uffd4j.FaultBatch");
            recording.enable("io.github.uffd4j.FaultFailure");
            recording.start();
            try (Mapping m = Memory.anonymous(16 * PAGE);
                 FaultService service = FaultService.builder().faultAround(PAGE)
                         .failurePolicy(FailurePolicy.DEFAULT.withRetries(0)).start()) {
                Region r = service.register(m, (offset, dst) -> {
                    if (offset == 5 * PAGE) {
                        throw new IOException("bad sector");
                    }
                    Data.fill(3, offset, dst);
                });
                r.load(0, 2 * PAGE);
                assertThrows(PageLoadException.class, () -> r.load(5 * PAGE, 8));
            }
            recording.stop();
            recording.dump(file);
            List<RecordedEvent> events = RecordingFile.readAllEvents(file);
            List<RecordedEvent> batches = events.stream().filter(e -> e.getEventType().getName().equals("io.github.uffd4j.FaultBatch")).toList();
            List<RecordedEvent> failures = events.stream().filter(e -> e.getEventType().getName().equals("io.github.uffd4j.FaultFailure")).toList();
            assertTrue(batches.size() >= 2, events::toString);
            assertTrue(batches.stream().mapToInt(e -> e.getInt("faults")).sum() >= 3, batches::toString);
            assertEquals(1, failures.size(), failures::toString);
            assertEquals("SOURCE_FAILED", failures.getFirst().getString("kind"));
            assertEquals(5 * PAGE, failures.getFirst().getLong("offset"));
            assertTrue(failures.getFirst().getString("cause").contains("bad sector"));
        } finally {
            Files.deleteIfExists(file);
        }
    }
}
