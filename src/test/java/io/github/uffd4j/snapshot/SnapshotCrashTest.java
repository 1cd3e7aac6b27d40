package io.github.uffd4j.snapshot;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Crash safety: a JVM taking snapshots one after the other is killed (SIGKILL) at random points,
 * while it writes pages, the index or the header, syncs or renames. Every file left must either
 * be whole (it opens, every page matches its checksum, every page is one write's stamp throughout,
 * and the increments under their final names still form a chain) or be refused at open with a
 * {@link SnapshotException}: never a file that opens and gives wrong bytes, never another error.
 */
class SnapshotCrashTest {

    private static final int RUNS = 6;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"live", "tracked"})
    void killedAtRandomPointsEveryFileLeftVerifiesOrIsRefusedAtOpen(String mode) throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        if (mode.equals("tracked")) {
            TestSupport.assumeFeature(Feature.WP_ASYNC);
        }
        SplittableRandom rnd = new SplittableRandom(mode.hashCode());
        int whole = 0;
        int refused = 0;
        for (int run = 0; run < RUNS; run++) {
            Path runDir = Files.createDirectory(dir.resolve(mode + "-" + run));
            try (ChildJvm.Running child = ChildJvm.start(SnapshotCrashChild.class, List.of("-Xmx128m"), mode, runDir.toString())) {
                String ready = child.awaitLine("ready", Duration.ofSeconds(30));
                assertNotNull(ready, "the child never got ready: " + child.output());
                Thread.sleep(rnd.nextInt(20, 700));
                child.process().destroyForcibly().waitFor();
                System.out.printf("%s run %d: killed after %s%n", mode, run,
                        child.output().lines().filter(l -> l.startsWith("done")).reduce((a, b) -> b).orElse("no snapshot done"));
            }
            List<Path> finals = new ArrayList<>();
            try (Stream<Path> files = Files.list(runDir)) {
                for (Path f : files.sorted().toList()) {
                    boolean temporary = f.getFileName().toString().contains(".tmp-");
                    try {
                        SnapshotFile s = SnapshotFile.openAny(f);
                        try (s) {
                            s.verify();
                            if (!s.isIncrement()) {
                                checkPagesAreWhole(s);
                            }
                        }
                        whole++;
                        if (!temporary) {
                            finals.add(f);
                        }
                    } catch (SnapshotException e) {
                        assertTrue(temporary, f + " is under its final name but refused: " + e.getMessage());
                        refused++;
                    } catch (Exception | Error e) {
                        fail(f + ": neither whole nor refused with a SnapshotException", e);
                    }
                }
            }
            if (mode.equals("tracked") && !finals.isEmpty()) {
                List<Path> chain = finals.stream().sorted((a, b) -> Integer.compare(number(a), number(b))).toList();
                assertEquals(chain.size() - 1, number(chain.getLast()), "the final names are tracked-0 .. n: " + chain);
                try (SnapshotChain c = SnapshotChain.open(chain)) {
                    c.verify();
                    checkPagesAreWhole(c);
                }
            }
        }
        System.out.printf("%s: %d files whole, %d refused at open%n", mode, whole, refused);
        assertTrue(whole > 0, "no snapshot was ever whole: the kills came too early to test anything");
    }

    private static int number(Path f) {
        String n = f.getFileName().toString();
        return Integer.parseInt(n.substring(n.indexOf('-') + 1, n.indexOf('.')));
    }

    /** Every page restored is one stamp throughout: no page mixes two writes or holds zeros. */
    private static void checkPagesAreWhole(io.github.uffd4j.handler.PageSource source) throws Exception {
        long ps = Memory.pageSize();
        try (Mapping m = Memory.anonymous(SnapshotCrashChild.SIZE)) {
            source.fill(0, m.segment());
            MemorySegment s = m.segment();
            for (long p = 0; p < SnapshotCrashChild.SIZE / ps; p++) {
                long first = s.get(ValueLayout.JAVA_LONG, p * ps);
                assertTrue(first != 0, "page " + p + " is zeros");
                for (long o = 8; o < ps; o += 8) {
                    if (s.get(ValueLayout.JAVA_LONG, p * ps + o) != first) {
                        fail("page " + p + " is torn: " + first + " then " + s.get(ValueLayout.JAVA_LONG, p * ps + o) + " at " + o);
                    }
                }
            }
        }
    }
}
