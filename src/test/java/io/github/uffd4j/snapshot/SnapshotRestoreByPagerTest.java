package io.github.uffd4j.snapshot;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.pager.PagerException;
import io.github.uffd4j.pager.Sources;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A snapshot chain restored lazily by a pager in another process ({@code snapshot:} URIs of
 * {@link Sources}): plain Java code reads the memory as it was at the last increment, pages coming
 * in on first touch, under a GC loop. And what such a URI refuses.
 */
class SnapshotRestoreByPagerTest {

    private static final long SIZE = 16L << 20;
    private static final long SEED = 4242;

    @TempDir
    Path dir;

    /** A full snapshot of the pattern, then an increment after the first word of every 7th page was inverted. */
    private Path[] chain() throws Exception {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        Path base = dir.resolve("base.u4s");
        Path inc = dir.resolve("inc.u4s");
        try (Mapping m = Memory.anonymous(SIZE); TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
            MemorySegment s = m.segment();
            for (long o = 0; o < SIZE; o += 8) {
                s.set(ValueLayout.JAVA_LONG, o, Sources.patternWord(SEED, o));
            }
            t.snapshot(base, Quiesce.NONE);
            for (long o = 0; o < SIZE; o += 7 * 4096) {
                s.set(ValueLayout.JAVA_LONG, o, SnapshotPagerChild.expected(SEED, o));
            }
            t.snapshot(inc, Quiesce.NONE);
        }
        return new Path[] {base, inc};
    }

    @Test
    void aPagerRestoresAChainForPlainJavaCode() throws Exception {
        Path[] c = chain();
        ChildJvm.Result r = ChildJvm.run(SnapshotPagerChild.class, Duration.ofMinutes(2), Long.toString(SIZE), Long.toString(SEED),
                c[0] + "," + c[1]);
        System.out.println("restored by a pager: " + r.output().lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(""));
        assertTrue(r.ok(), r::describe);
        assertTrue(r.output().contains("RESULT words=" + SIZE / 8 + " bad=0 "), r::describe);
        assertTrue(r.output().contains(" failures=0"), r::describe);
    }

    @Test
    void aSnapshotUriRefusesABrokenChainOrATooSmallSnapshot() throws Exception {
        Path[] c = chain();
        PagerException outOfOrder = assertThrows(PagerException.class,
                () -> Sources.open(URI.create("snapshot:" + c[1] + "," + c[0]), SIZE));
        assertTrue(outOfOrder.getMessage().contains("full snapshot"), outOfOrder.getMessage());
        PagerException tooSmall = assertThrows(PagerException.class, () -> Sources.open(URI.create("snapshot:" + c[0]), 2 * SIZE));
        assertTrue(tooSmall.getMessage().contains("holds " + SIZE + " bytes"), tooSmall.getMessage());
        PagerException empty = assertThrows(PagerException.class, () -> Sources.open(URI.create("snapshot:,"), SIZE));
        assertTrue(empty.getMessage().contains("oldest first"), empty.getMessage());
    }
}
