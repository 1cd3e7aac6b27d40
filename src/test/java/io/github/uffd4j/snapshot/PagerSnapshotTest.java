package io.github.uffd4j.snapshot;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshots taken by a pager while plain JIT-compiled Java code in the app writes the memory
 * under a GC loop ({@link io.github.uffd4j.pager.PagedMemory.Region#snapshot}): every page of the
 * file holds exactly what it held at the instant, for pages written before and after it, pages
 * present but never written, and pages never loaded; on anonymous, shared and hugetlb memory. In a
 * child JVM watched with a timeout.
 */
class PagerSnapshotTest {

    private static final long SIZE = 64L << 20;
    /** Below the suite's 120 s test timeout, so that a hang is reported with the child's threads. */
    private static final Duration LIMIT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"ANONYMOUS", "SHMEM", "HUGETLB"})
    void plainJavaWritersGetAPointInTimeSnapshot(String backing) throws Exception {
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        if (!backing.equals("ANONYMOUS")) {
            TestSupport.assumeFeature(Feature.WP_HUGETLBFS_SHMEM);
        }
        if (backing.equals("HUGETLB")) {
            TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, (int) (SIZE / HugePageSize.SIZE_2MB.bytes()) + 4);
        }
        // Every attempt must be exact. The copy-before-write path must have run in one of them: where the
        // background save outruns the writers (descheduled on two busy CPUs: seen once inside the container,
        // 7,978 writes all on pages already saved), the snapshot is taken again.
        String line = "";
        int attempts = 0;
        do {
            attempts++;
            Path file = dir.resolve("snap-" + backing + "-" + attempts + ".u4s");
            ChildJvm.Result r = ChildJvm.run(PagerSnapshotChild.class, LIMIT, Long.toString(SIZE), "77", backing,
                    file.toString());
            line = r.output().lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse("");
            System.out.println("pager snapshot, " + backing + ", attempt " + attempts + ": " + line);
            assertTrue(r.ok(), r::describe);
            assertEquals(0, number(line, "bad"), r::describe);
            assertEquals(0, number(line, "errors"), r::describe);
            assertTrue(number(line, "instant") > 0, "the writers wrote before the snapshot: " + line);
            assertTrue(number(line, "writesDuringSnapshot") > 0, "the writers wrote while it was taken: " + line);
            assertTrue(number(line, "gcs") > 0, line);
        } while (number(line, "savedBeforeWrite") == 0 && attempts < 3);
        assertTrue(number(line, "savedBeforeWrite") > 0, "some pages were saved before a write in " + attempts + " attempts: " + line);
    }

    @Test
    void pagesDiscardedBehindThePagersBackFailTheSnapshotOrWereSavedFirst() throws Exception {
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        Path file = dir.resolve("snap-discarded.u4s");
        ChildJvm.Result r = ChildJvm.run(PagerSnapshotChild.class, LIMIT, Long.toString(SIZE), "78", "ANONYMOUS", file.toString(),
                "discard");
        String discard = r.output().lines().filter(l -> l.startsWith("DISCARD")).findFirst().orElse("");
        String result = r.output().lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse("");
        System.out.println("pager snapshot, pages discarded meanwhile: " + discard + " " + result);
        assertTrue(r.ok(), r::describe);
        if (discard.contains("outcome=completed")) {
            // the pager had copied the pages before the zap reached them: then the file must be exact
            assertEquals(0, number(result, "bad"), r::describe);
        } else {
            assertTrue(discard.contains("outcome=refused fileExists=false "), r::describe);
        }
    }

    private static long number(String line, String key) {
        Matcher m = Pattern.compile("\\b" + key + "=(-?\\d+)").matcher(line);
        assertTrue(m.find(), key + " missing in '" + line + "'");
        return Long.parseLong(m.group(1));
    }
}
