package io.github.uffd4j.migrate;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: a migration target receiving into shared memory (served in MINOR mode: pages written
 * into the page cache through the alias, mapped with UFFDIO_CONTINUE) and into hugetlb memory
 * (private: UFFDIO_COPY of 2 MiB pages; shared: MINOR on hugetlbfs), from a source JVM whose
 * writers run during precopy; the target touches pages in random order during postcopy (from
 * native code, {@link MigratedMemory#load}); every byte is checked against the source at the
 * switchover. A page size the target cannot take is refused on both sides before anything runs.
 */
class MigrationBackingTest {

    static final int MIB = 32;
    static final HugePageSize HUGE = HugePageSize.SIZE_2MB;

    @Test
    void anonymousSourceIntoShmemTargetServedInMinorMode(@TempDir Path dir) throws Exception {
        MigrationTest.assumeKernel();
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        migrate(dir, MigrationTarget.Backing.SHMEM, false);
    }

    @Test
    void hugetlbSourceIntoHugetlbTargetInHugePages(@TempDir Path dir) throws Exception {
        assumeHugetlb();
        TestSupport.assumeFeature(Feature.MISSING_HUGETLBFS);
        migrate(dir, MigrationTarget.Backing.hugetlb(HUGE), true);
    }

    @Test
    void hugetlbSourceIntoSharedHugetlbTargetServedInMinorMode(@TempDir Path dir) throws Exception {
        assumeHugetlb();
        TestSupport.assumeFeature(Feature.MINOR_HUGETLBFS);
        migrate(dir, MigrationTarget.Backing.sharedHugetlb(HUGE), true);
    }

    /** A source in base pages and a hugetlb target: both sides refuse, saying why, before anything is mapped or runs. */
    @Test
    void hugetlbTargetRefusesASourceInBasePagesOnBothSides(@TempDir Path dir) throws Exception {
        MigrationTest.assumeKernel();
        long before = Memory.freeHugePages(HUGE);
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
             ChildJvm.Running source = ChildJvm.start(MigrationSourceChild.class, List.of(),
                     Integer.toString(server.getLocalPort()), Integer.toString(MIB), dir.resolve("x").toString())) {
            MigrationException e = assertThrows(MigrationException.class, () -> MigrationTarget.receive(server,
                    MigrationTarget.Options.DEFAULT.withBacking(MigrationTarget.Backing.hugetlb(HUGE))));
            assertTrue(e.getMessage().contains("refused") && e.getMessage().contains("2097152-byte pages")
                    && e.getMessage().contains("before the switchover"), e.getMessage());
            assertEquals(before, Memory.freeHugePages(HUGE), "huge pages were taken before the refusal");
            ChildJvm.Result r = source.finish(Duration.ofSeconds(60));
            assertFalse(r.ok(), r.describe());
            assertTrue(r.output().contains("the target refused the migration") && r.output().contains("before the switchover")
                    && r.output().contains("2097152-byte pages") && !r.output().contains("MIGRATED"), r.describe());
            System.out.println("refused on both sides: " + e.getMessage());
        }
    }

    /** A source in huge pages and a target in base pages: refused, naming the backing that would take them. */
    @Test
    void baseTargetsRefuseHugePagesNamingTheBackingThatTakesThem() {
        for (MigrationTarget.Backing b : List.of(MigrationTarget.Backing.ANONYMOUS, MigrationTarget.Backing.SHMEM)) {
            String why = MigrationTarget.pageSizeMismatch((int) HUGE.bytes(), b);
            assertTrue(why != null && why.contains("Backing.hugetlb(HugePageSize.SIZE_2MB)"), why);
        }
        assertTrue(MigrationTarget.pageSizeMismatch((int) HUGE.bytes(), MigrationTarget.Backing.hugetlb(HugePageSize.SIZE_1GB))
                .contains("1073741824-byte pages"));
        assertEquals(null, MigrationTarget.pageSizeMismatch((int) HUGE.bytes(), MigrationTarget.Backing.sharedHugetlb(HUGE)));
        assertEquals(null, MigrationTarget.pageSizeMismatch((int) Memory.pageSize(), MigrationTarget.Backing.SHMEM));
        assertThrows(IllegalArgumentException.class, () -> new MigrationTarget.Backing(MigrationTarget.Backing.Kind.HUGETLB, null));
        assertThrows(IllegalArgumentException.class, () -> new MigrationTarget.Backing(MigrationTarget.Backing.Kind.SHMEM, HUGE));
    }

    private static void assumeHugetlb() {
        MigrationTest.assumeKernel();
        TestSupport.assumeFeature(Feature.WP_HUGETLBFS_SHMEM);
        // the source's memory and the target's, and a little slack
        TestSupport.assumeHugePages(HUGE, 2 * (int) ((long) MIB << 20 >> 21) + 2);
    }

    private static void migrate(Path dir, MigrationTarget.Backing backing, boolean hugetlbSource) throws Exception {
        Path expected = dir.resolve("expected.bin");
        List<String> args = new ArrayList<>(List.of("0", Integer.toString(MIB), expected.toString()));
        if (hugetlbSource) {
            args.add("hugetlb");
        }
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            args.set(0, Integer.toString(server.getLocalPort()));
            try (ChildJvm.Running source = ChildJvm.start(MigrationSourceChild.class, List.of(), args.toArray(String[]::new));
                 MigratedMemory m = MigrationTarget.receive(server, MigrationTarget.Options.DEFAULT.withBacking(backing))) {
                assertEquals((long) MIB << 20, m.byteSize());
                assertEquals(backing, m.backing());
                assertEquals(backing.pageSize(), m.pageSize());
                assertEquals(backing.isShared(), m.sharedMemory().isPresent());
                long page = m.pageSize();
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                int touches = 0;
                int max = hugetlbSource ? 40 : 300;
                for (; touches < max && !m.isComplete(); touches++) {
                    // native loads only: a plain Java load of a page not arrived would fault on this JVM's own handler
                    long at = rnd.nextLong(m.byteSize() / Memory.pageSize()) * Memory.pageSize();
                    m.load(at, Memory.pageSize());
                }
                assertTrue(m.awaitComplete(Duration.ofSeconds(60)), "not every page arrived");
                ChildJvm.Result r = source.finish(Duration.ofSeconds(60));
                assertTrue(r.ok() && r.output().contains("MIGRATED"), r.describe());
                System.out.println("migration " + MIB + " MiB into " + backing + ": " + r.output().lines()
                        .filter(l -> l.startsWith("REPORT")).findFirst().orElse("?") + "; target: pushed " + m.pagesPushed()
                        + ", pulled " + m.pagesPulled() + " (" + touches + " touches of " + page + "-byte pages), "
                        + m.stats().latency());
                assertTrue(m.pagesPushed() + m.pagesPulled() > 0, "nothing came after the switchover: no postcopy was tested");
                try (FileChannel ch = FileChannel.open(expected); Arena arena = Arena.ofConfined()) {
                    MemorySegment want = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                    long mismatch = m.segment().mismatch(want);
                    assertEquals(-1, mismatch, "the target differs from the source at the switchover, first at byte " + mismatch);
                    if (m.sharedMemory().isPresent()) {
                        // the page cache holds it all: a fresh mapping of the memfd (as another process would make) reads the same
                        SharedMemory shm = m.sharedMemory().get();
                        try (Mapping again = Memory.mapShared(shm.fd(), shm.byteSize(), shm.pageSize())) {
                            long other = again.segment().mismatch(want);
                            assertEquals(-1, other, "a second mapping of the memfd differs at byte " + other);
                        }
                    }
                }
            }
        }
    }
}
