package io.github.uffd4j.snapshot;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every snapshot leaves one JFR event ({@code io.github.uffd4j.Snapshot}) saying what it wrote and how long the writers waited. */
class SnapshotEventTest {

    private static final long PAGE = Memory.pageSize();
    private static final int PAGES = 256;

    @TempDir
    Path dir;

    private List<RecordedEvent> recorded(Recording r) throws Exception {
        r.stop();
        Path f = dir.resolve("rec.jfr");
        r.dump(f);
        return RecordingFile.readAllEvents(f).stream().filter(e -> e.getEventType().getName().equals("io.github.uffd4j.Snapshot"))
                .toList();
    }

    /** Every even page gets a non-zero word; odd pages stay zeros (left out of a full snapshot). */
    private static void fillEvenPages(Mapping m) {
        for (long p = 0; p < PAGES; p += 2) {
            m.segment().set(ValueLayout.JAVA_LONG, p * PAGE, p + 1);
        }
    }

    @Test
    void aLiveSnapshotRecordsItsPagesBytesAndPause() throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Recording rec = new Recording(); Mapping m = Memory.anonymous(PAGES * PAGE)) {
            rec.enable("io.github.uffd4j.Snapshot");
            rec.start();
            fillEvenPages(m);
            Path file = dir.resolve("live.u4s");
            try (LiveSnapshots snaps = LiveSnapshots.of(m.segment())) {
                snaps.snapshot(file, Quiesce.NONE).await(Duration.ofSeconds(30));
            }
            List<RecordedEvent> events = recorded(rec);
            assertEquals(1, events.size(), events::toString);
            RecordedEvent e = events.getFirst();
            assertEquals("live", e.getString("kind"));
            assertEquals(file.toAbsolutePath().toString(), Path.of(e.getString("file")).toAbsolutePath().toString());
            assertEquals(PAGES * PAGE, e.getLong("memorySize"));
            assertEquals(PAGES, e.getLong("savedInBackground") + e.getLong("savedBeforeWrite"));
            assertEquals(PAGES / 2, e.getLong("zeroPagesLeftOut"));
            assertEquals(PAGES / 2, e.getLong("pagesStored"));
            assertEquals(PAGES / 2 * PAGE, e.getLong("bytesWritten"));
            assertTrue(e.getDuration("pauseNanos").toNanos() > 0, e::toString);
            assertTrue(e.getDuration().compareTo(e.getDuration("pauseNanos")) >= 0, e::toString);
            assertNull(e.getString("failure"));
        }
    }

    @Test
    void trackedSnapshotsRecordFullAndIncrementWithTheirRounds() throws Exception {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Recording rec = new Recording(); Mapping m = Memory.anonymous(PAGES * PAGE)) {
            rec.enable("io.github.uffd4j.Snapshot");
            rec.start();
            fillEvenPages(m);
            try (TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
                t.snapshot(dir.resolve("base.u4s"), Quiesce.NONE);
                m.segment().set(ValueLayout.JAVA_LONG, 3 * PAGE, 42);
                m.segment().set(ValueLayout.JAVA_LONG, 8 * PAGE, 43);
                t.snapshot(dir.resolve("inc.u4s"), Quiesce.NONE);
            }
            List<RecordedEvent> events = recorded(rec);
            assertEquals(2, events.size(), events::toString);
            RecordedEvent full = events.get(0).getString("kind").equals("tracked full") ? events.get(0) : events.get(1);
            RecordedEvent inc = full == events.get(0) ? events.get(1) : events.get(0);
            assertEquals("tracked full", full.getString("kind"));
            assertEquals(PAGES / 2, full.getLong("pagesStored"));
            assertTrue(full.getInt("rounds") >= 2, full::toString); // the whole pass, then at least the paused one
            assertEquals("tracked increment", inc.getString("kind"));
            assertEquals(2, inc.getLong("pagesStored"));
            assertEquals(2 * PAGE, inc.getLong("bytesWritten"));
            assertNull(inc.getString("failure"));
        }
    }
}
