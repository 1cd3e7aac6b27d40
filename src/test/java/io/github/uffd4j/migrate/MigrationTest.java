package io.github.uffd4j.migrate;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.Feature;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.handler.PageLoadException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 15: postcopy migration between two real JVMs on loopback. The source (a child JVM) keeps
 * writing during precopy; the target (this JVM) touches pages in random order during postcopy;
 * every page is checked against what the source held at the switchover.
 */
class MigrationTest {

    static final int MIB = 64;

    @Test
    void memoryWrittenDuringPrecopyArrivesExactlyAsAtTheSwitchover(@TempDir Path dir) throws Exception {
        assumeKernel();
        Path expected = dir.resolve("expected.bin");
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
             ChildJvm.Running source = ChildJvm.start(MigrationSourceChild.class, List.of(),
                     Integer.toString(server.getLocalPort()), Integer.toString(MIB), expected.toString())) {
            long pulledTouches = 0;
            try (MigratedMemory m = MigrationTarget.receive(server)) {
                assertEquals((long) MIB << 20, m.byteSize());
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                for (int i = 0; i < 300 && !m.isComplete(); i++) {
                    m.load(rnd.nextLong(m.byteSize() / PAGE) * PAGE, PAGE); // faults from native code: asked for first
                    pulledTouches++;
                }
                assertTrue(m.awaitComplete(Duration.ofSeconds(60)), "not every page arrived");
                ChildJvm.Result r = source.finish(Duration.ofSeconds(60));
                assertTrue(r.ok() && r.output().contains("MIGRATED"), r.describe());
                System.out.println("migration " + MIB + " MiB: " + r.output().lines().filter(l -> l.startsWith("REPORT"))
                        .findFirst().orElse("?") + "; target: pushed " + m.pagesPushed() + ", pulled " + m.pagesPulled()
                        + " (" + pulledTouches + " touches), " + m.stats().latency());
                try (FileChannel ch = FileChannel.open(expected)) {
                    MemorySegment want = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), java.lang.foreign.Arena.ofAuto());
                    long mismatch = m.segment().mismatch(want);
                    assertEquals(-1, mismatch, "the target differs from the source at the switchover, first at byte " + mismatch);
                }
            }
        }
    }

    @Test
    void sourceGoneAtTheSwitchoverFailsThePagesNotArrivedNeverZeros(@TempDir Path dir) throws Exception {
        assumeKernel();
        try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
             ChildJvm.Running source = ChildJvm.start(MigrationSourceChild.class, List.of(),
                     Integer.toString(server.getLocalPort()), Integer.toString(MIB), dir.resolve("x").toString(),
                     "exit-at-switchover")) {
            // the source dies after its precopy, before naming the pages left: nothing runs here
            MigrationException e = assertThrows(MigrationException.class,
                    () -> MigrationTarget.receive(server, new MigrationTarget.Options(Duration.ofSeconds(30), 2)));
            assertTrue(e.getMessage().contains("before the switchover"), e.getMessage());
            assertEquals(3, source.finish(Duration.ofSeconds(30)).exit());
        }
    }

    static void assumeKernel() {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
    }
}
