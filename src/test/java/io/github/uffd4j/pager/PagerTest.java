package io.github.uffd4j.pager;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.UnixSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pager with real processes: a pager JVM serves an app JVM whose plain Java code reads every
 * word of its lazily paged memory while a System.gc() loop runs. Both run in child JVMs watched
 * from here (an app whose faults nobody serves would freeze, and could not report itself).
 */
@org.junit.jupiter.api.Timeout(180)
class PagerTest {

    private static final long SIZE = 256L << 20;
    private static final Duration LIMIT = Duration.ofSeconds(90);
    static final Pattern SURVIVOR = Pattern.compile("RESULT pages=(\\d+) bad=(\\d+) errors=(\\d+) events=(\\S*)");
    static final Pattern RESULT = Pattern.compile("RESULT pages=(\\d+) bad=(\\d+) firstBad=(-?\\d+) gcs=(\\d+)");

    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("pager").resolve("pager.sock");
    }

    private static Matcher result(ChildJvm.Result r) {
        Matcher m = RESULT.matcher(r.output());
        assertTrue(r.ok() && m.find(), r.describe());
        return m;
    }

    private void scanUnderGcStorm(List<String> jvmOptions) throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket())) {
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, jvmOptions, socket().toString(),
                    Long.toString(SIZE), "42", "4");
            Matcher m = result(r);
            assertEquals(SIZE / 4096, Long.parseLong(m.group(1)));
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words; first at offset " + m.group(3) + "\n" + r.describe());
            assertTrue(Long.parseLong(m.group(4)) > 0, "the GC loop ran");
            Matcher stats = Pattern.compile("STATS loaded=(\\d+) failures=(\\d+) faults=(\\d+)").matcher(r.output());
            assertTrue(stats.find(), r.describe());
            assertEquals(SIZE / 4096, Long.parseLong(stats.group(1)), "the pager's counters (STATS): every page loaded once");
            assertEquals(0, Long.parseLong(stats.group(2)), "no failures");
            assertTrue(Long.parseLong(stats.group(3)) > 0, "faults were counted");
            assertTrue(pager.process().isAlive(), "the pager outlives its app:\n" + pager.output());
        }
    }

    @Test
    void plainJavaReadsEveryWordCorrectlyUnderAGcLoopWithG1() throws Exception {
        scanUnderGcStorm(List.of("-Xmx256m", "-XX:+UseG1GC"));
    }

    @Test
    void plainJavaReadsEveryWordCorrectlyUnderAGcLoopWithZgc() throws Exception {
        scanUnderGcStorm(List.of("-Xmx256m", "-XX:+UseZGC"));
    }

    @Test
    void malformedMessagesEndOnlyTheirConnection() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket())) {
            List<byte[]> bad = List.of(new byte[] {0}, new byte[] {1, 2, 3}, "UFFPxxxxxxxxxxxxxxxx".getBytes(),
                    PagerProtocol.encode(new PagerProtocol.Bye()),                                // no HELLO first
                    java.util.Arrays.copyOf(PagerProtocol.encode(new PagerProtocol.Hello(0, 3)), 9), // truncated
                    PagerProtocol.encode(new PagerProtocol.Hello(0, 3)));                           // HELLO without a descriptor
            for (byte[] message : bad) {
                try (UnixSocket s = UnixSocket.connect(socket())) {
                    s.send(message);
                    try (UnixSocket.Message reply = s.receive(Duration.ofSeconds(10))) {
                        assertNotNull(reply, "no reply to a malformed message");
                        assertFalse(reply.isEndOfStream(), "the pager closed without saying why");
                        PagerProtocol.Reply r = (PagerProtocol.Reply) PagerProtocol.decode(reply.data());
                        assertFalse(r.ok());
                        assertFalse(r.text().isBlank());
                    }
                    try (UnixSocket.Message end = s.receive(Duration.ofSeconds(10))) {
                        assertTrue(end != null && end.isEndOfStream(), "the connection is closed after the error");
                    }
                }
            }
            // and a real app is still served
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, socket().toString(), Long.toString(16L << 20), "7", "2");
            assertEquals(0, Long.parseLong(result(r).group(2)), r.describe());
        }
    }

    @Test
    void aPeerWhoseUidIsNotAllowedIsRefused() throws Exception {
        int other = UnixSocket.currentUid() + 4242;
        try (PagerProcess pager = PagerProcess.start(socket(), "--allow-uid", Integer.toString(other))) {
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, socket().toString(), Long.toString(16L << 20), "7", "2");
            assertFalse(r.ok(), r.describe());
            assertTrue(r.output().contains("may not use this pager"), r.describe());
        }
    }

    @Test
    void aDirectoryOthersMayEnterIsRefused() throws Exception {
        Path open = dir.resolve("open");
        java.nio.file.Files.createDirectory(open);
        java.nio.file.Files.setPosixFilePermissions(open, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        PagerException e = org.junit.jupiter.api.Assertions.assertThrows(PagerException.class,
                () -> Pager.builder().socket(open.resolve("p.sock")).start());
        assertTrue(e.getMessage().contains("chmod 700"), e.getMessage());
    }

    /** Runs {@link PagerSurvivorChild} against the pager, kills the pager once the app says so, returns the RESULT. */
    private Matcher survive(PagerProcess pager, String reconnectSeconds) throws Exception {
        return survive(pager, reconnectSeconds, RegionSpec.Backing.ANONYMOUS);
    }

    private Matcher survive(PagerProcess pager, String reconnectSeconds, RegionSpec.Backing backing) throws Exception {
        try (ChildJvm.Running app = ChildJvm.start(PagerSurvivorChild.class, List.of("-Xmx256m"), socket().toString(),
                Long.toString(SIZE), "42", "4", reconnectSeconds, "pattern:42", "true", backing.name())) {
            String kill = app.awaitLine("KILL ", LIMIT);
            assertNotNull(kill, "the app did not start reading:\n" + app.output() + "\npager:\n" + pager.output());
            long pid = Long.parseLong(kill.substring(5).trim());
            assertTrue(ProcessHandle.of(pid).map(ProcessHandle::destroyForcibly).orElse(false), "kill -9 the pager " + pid);
            ChildJvm.Result r = app.finish(LIMIT);
            Matcher m = SURVIVOR.matcher(r.output());
            assertTrue(r.ok() && m.find(), r.describe() + "\npager:\n" + pager.output());
            assertEquals(SIZE / 4096, Long.parseLong(m.group(1)));
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words (zeros?)\n" + r.describe());
            r.output().lines().filter(l -> l.startsWith("LOST to ") || l.startsWith("pages with a bogus")).forEach(l -> System.out.println("pager death, " + backing + ": " + l));
            return m;
        }
    }

    @Test
    void aPagerKilledMidRunIsReplacedAndEveryWordIsRight() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket(), "--restarts", "2")) {
            Matcher m = survive(pager, "60");
            assertEquals(0, Long.parseLong(m.group(3)), "no page may fail when a replacement serves");
            assertEquals("LOST,RESUMED", m.group(4));
            assertTrue(pager.output().contains("starting a replacement"), pager.output());
        }
    }

    @Test
    void whenTheRestartsAreUsedUpTheMissingPagesFailLoudlyNeverReadAsZeros() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket(), "--restarts", "0")) {
            Matcher m = survive(pager, "3");
            assertTrue(Long.parseLong(m.group(3)) > 0, "the pages never loaded raised errors");
            assertEquals("LOST,ABANDONED", m.group(4));
            assertTrue(pager.process().waitFor(30, java.util.concurrent.TimeUnit.SECONDS), "the supervisor exits");
            assertEquals(1, pager.process().exitValue(), pager.output());
            assertTrue(pager.output().contains("restarts used up"), pager.output());
        }
    }

    @Test
    void aSourceThatNeverAnswersIsPoisonedAtTheFaultDeadline() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket(), "--restarts", "-1", "--fault-deadline", "0.5")) {
            ChildJvm.Result r = ChildJvm.run(PagerSurvivorChild.class, LIMIT, socket().toString(), Long.toString(4L << 20), "42",
                    "4", "5", "stall:42", "false");
            Matcher m = SURVIVOR.matcher(r.output());
            assertTrue(r.ok() && m.find(), r.describe() + "\npager:\n" + pager.output());
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words\n" + r.describe());
            long errors = Long.parseLong(m.group(3));
            assertEquals(4, errors, "exactly the 4 stalled pages fail (their neighbours are retried alone)");
            assertEquals("", m.group(4), "the pager stayed");
        }
    }

    @Test
    void anAppKilledMidRunEndsOnlyItsOwnSession() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket())) {
            long appPid;
            try (ChildJvm.Running app = ChildJvm.start(PagerSurvivorChild.class, List.of("-Xmx256m"), socket().toString(),
                    Long.toString(SIZE), "42", "4", "5", "pattern:42", "false")) {
                assertNotNull(app.awaitLine("KILL ", LIMIT), app.output());
                appPid = app.process().pid();
                app.process().destroyForcibly().waitFor();
            }
            Path entry = socket().getParent().resolve("journal").resolve("app-" + appPid + ".state");
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (java.nio.file.Files.exists(entry) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertFalse(java.nio.file.Files.exists(entry), "the dead app's journal entry is deleted\n" + pager.output());
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, socket().toString(), Long.toString(16L << 20), "7", "2");
            assertEquals(0, Long.parseLong(result(r).group(2)), r.describe());
            assertTrue(pager.process().isAlive(), pager.output());
            assertTrue(pager.output().contains("pid " + appPid + " (uid") && pager.output().contains("went away"), pager.output());
        }
    }

    @Test
    void regionsComeAndGoWhileOthersAreReadAndRemoveAndUnmapEventsAreApplied() throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket())) {
            ChildJvm.Result r = ChildJvm.run(PagerRegionsChild.class, LIMIT, socket().toString());
            Matcher m = Pattern.compile("RESULT bad=(\\d+) scans=(\\d+) regions=(\\d+)").matcher(r.output());
            assertTrue(r.ok() && m.find(), r.describe() + "\npager:\n" + pager.output());
            assertEquals(0, Long.parseLong(m.group(1)), r.describe() + "\npager:\n" + pager.output());
            assertTrue(Long.parseLong(m.group(2)) > 0, "the steady region was read meanwhile");
            assertEquals(8, Long.parseLong(m.group(3)));
            assertTrue(pager.process().isAlive(), pager.output());
            assertFalse(pager.output().contains("SEVERE") || pager.output().contains("Exception"), pager.output());
        }
    }

    private void everyWordOf(RegionSpec.Backing backing, long size) throws Exception {
        try (PagerProcess pager = PagerProcess.start(socket())) {
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, List.of("-Xmx256m"), socket().toString(),
                    Long.toString(size), "9", "4", backing.name());
            Matcher m = result(r);
            assertEquals(size / 4096, Long.parseLong(m.group(1)));
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words; first at offset " + m.group(3) + "\n" + r.describe()
                    + "\npager:\n" + pager.output());
        }
    }

    @Test
    void sharedMemoryIsServedWithMinorFaultsThroughTheSentMemfd() throws Exception {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.MINOR_SHMEM);
        everyWordOf(RegionSpec.Backing.SHMEM, SIZE);
    }

    @Test
    void hugetlbMemoryIsServed() throws Exception {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.MISSING_HUGETLBFS);
        io.github.uffd4j.TestSupport.assumeHugePages(io.github.uffd4j.HugePageSize.SIZE_2MB, 32);
        everyWordOf(RegionSpec.Backing.HUGETLB, 64L << 20);
    }

    @Test
    void sharedHugetlbMemoryIsServedWithMinorFaults() throws Exception {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.MINOR_HUGETLBFS);
        io.github.uffd4j.TestSupport.assumeHugePages(io.github.uffd4j.HugePageSize.SIZE_2MB, 32);
        everyWordOf(RegionSpec.Backing.SHARED_HUGETLB, 64L << 20);
    }

    @Test
    void aPagerKilledMidRunIsReplacedForSharedMemoryAndKeepsThePageCache() throws Exception {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.MINOR_SHMEM);
        try (PagerProcess pager = PagerProcess.start(socket(), "--restarts", "2")) {
            Matcher m = survive(pager, "60", RegionSpec.Backing.SHMEM);
            assertEquals(0, Long.parseLong(m.group(3)), "no page may fail when a replacement serves");
            assertEquals("LOST,RESUMED", m.group(4));
        }
    }
}
