package io.github.uffd4j.pager;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pager the app starts for itself ({@link PagedMemory#builder()}), and pagers and apps of
 * different users (the pager run as {@code nobody}: it needs no privilege). Real processes, as in
 * {@link PagerTest}.
 */
@Timeout(180)
class PagerLaunchTest {

    private static final Duration LIMIT = Duration.ofSeconds(90);
    private static final Pattern PAGER = Pattern.compile("PAGER (\\d+) (-?\\d+)");
    private static final int NOBODY = 65534;

    @TempDir
    Path dir;

    /** The app's java.io.tmpdir, where its pager's private directory is made (and must be gone afterwards). */
    private List<String> appOptions() throws Exception {
        Path tmp = Files.createDirectories(dir.resolve("app-tmp"));
        return List.of("-Xmx256m", "-Djava.io.tmpdir=" + tmp);
    }

    private void assertGone(long pid, String what) throws Exception {
        ProcessHandle h = ProcessHandle.of(pid).orElse(null);
        if (h != null) {
            h.onExit().get(20, TimeUnit.SECONDS);
        }
        assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), what + " (pid " + pid + ") still runs");
    }

    private void assertNoPagerDirectoryLeft() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        List<Path> left;
        do {
            try (Stream<Path> s = Files.list(dir.resolve("app-tmp"))) {
                left = s.filter(p -> p.getFileName().toString().startsWith("uffd4j-pager-")).toList();
            }
        } while (!left.isEmpty() && System.nanoTime() < deadline && sleep());
        assertTrue(left.isEmpty(), "the pager's private directory is removed: " + left);
    }

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(50);
        return true;
    }

    @Test
    void anAppStartsItsOwnPagerUnderASupervisorAndBothStopWhenItCloses() throws Exception {
        ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, appOptions(), "launch", Long.toString(64L << 20), "5", "2");
        Matcher m = PagerTest.RESULT.matcher(r.output());
        Matcher p = PAGER.matcher(r.output());
        assertTrue(r.ok() && m.find() && p.find(), r.describe());
        assertEquals(0, Long.parseLong(m.group(2)), "wrong words\n" + r.describe());
        assertGone(Long.parseLong(p.group(1)), "the pager");
        assertGone(Long.parseLong(p.group(2)), "its supervisor");
        assertNoPagerDirectoryLeft();
    }

    @Test
    void anAppsOwnPagerKilledMidRunIsReplacedByItsSupervisor() throws Exception {
        try (ChildJvm.Running app = ChildJvm.start(PagerSurvivorChild.class, appOptions(), "launch",
                Long.toString(256L << 20), "42", "4", "60", "pattern:42", "true")) {
            String kill = app.awaitLine("KILL ", LIMIT);
            assertNotNull(kill, app.output());
            assertTrue(ProcessHandle.of(Long.parseLong(kill.substring(5).trim())).map(ProcessHandle::destroyForcibly).orElse(false));
            ChildJvm.Result r = app.finish(LIMIT);
            Matcher m = PagerTest.SURVIVOR.matcher(r.output());
            assertTrue(r.ok() && m.find(), r.describe());
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words\n" + r.describe());
            assertEquals(0, Long.parseLong(m.group(3)), "no page fails when the replacement serves\n" + r.describe());
            assertEquals("LOST,RESUMED", m.group(4), r.describe());
        }
        assertNoPagerDirectoryLeft();
    }

    @Test
    void anAppsOwnPagerStopsWhenTheAppIsKilled() throws Exception {
        long pager;
        long supervisor;
        try (ChildJvm.Running app = ChildJvm.start(PagerAppChild.class, appOptions(), "launch", Long.toString(256L << 20), "5", "2")) {
            String line = app.awaitLine("PAGER ", LIMIT);
            assertNotNull(line, app.output());
            Matcher p = PAGER.matcher(line);
            assertTrue(p.find(), line);
            pager = Long.parseLong(p.group(1));
            supervisor = Long.parseLong(p.group(2));
            app.process().destroyForcibly().waitFor();
        }
        assertGone(pager, "the pager of a killed app");
        assertGone(supervisor, "the supervisor of a killed app");
        assertNoPagerDirectoryLeft();
    }

    // --- users -----------------------------------------------------------------------------------

    /** A pager run as {@code nobody} ({@link PagerLaunch} needs only the library's classes), in a directory of nobody's. */
    private PagerProcess pagerAsNobody(Path socket, String allowUids) throws Exception {
        TestSupport.assumeCanRunAsNobody();
        Path classes = Path.of(PagerLaunch.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Process probe = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "test", "-r", classes.resolve(PagerLaunch.class.getName().replace('.', '/') + ".class").toString()).start();
        Assumptions.assumeTrue(probe.waitFor() == 0, "user nobody cannot read the library's classes in " + classes);
        Path parent = socket.getParent().getParent();
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m",
                "--enable-native-access=ALL-UNNAMED", "-cp", classes.toString(), "-Duffd4j.pager.socket=" + socket,
                "-Duffd4j.pager.restarts=-1"));
        if (allowUids != null) {
            cmd.add("-Duffd4j.pager.allowUids=" + allowUids);
        }
        cmd.add(PagerLaunch.class.getName());
        return PagerProcess.start(cmd);
    }

    private Path nobodySocket() throws Exception {
        Path parent = Files.createDirectories(dir.resolve("shared"));
        Path own = parent.resolve("pager");
        Files.createDirectory(own, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setOwner(own, own.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
        return own.resolve("pager.sock");
    }

    @Test
    void anAppRefusesToHandItsMemoryToAPagerOfAnotherUser() throws Exception {
        Path socket = nobodySocket();
        try (PagerProcess pager = pagerAsNobody(socket, "0")) {
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, socket.toString(), Long.toString(16L << 20), "7", "2");
            assertFalse(r.ok(), r.describe());
            assertTrue(r.output().contains("runs as uid " + NOBODY) && r.output().contains("not handing it"), r.describe());
        }
    }

    @Test
    void aPagerRefusesAnAppOfAUidItDoesNotAllow() throws Exception {
        Path socket = nobodySocket();
        try (PagerProcess pager = pagerAsNobody(socket, null)) { // default: its own uid only
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, List.of("-Duffd4j.test.pagerUids=" + NOBODY),
                    socket.toString(), Long.toString(16L << 20), "7", "2");
            assertFalse(r.ok(), r.describe());
            assertTrue(r.output().contains("uid 0 may not use this pager"), r.describe());
        }
    }

    @Test
    void anUnprivilegedPagerServesAnAppThatAllowsIt() throws Exception {
        Path socket = nobodySocket();
        try (PagerProcess pager = pagerAsNobody(socket, "0")) {
            ChildJvm.Result r = ChildJvm.run(PagerAppChild.class, LIMIT, List.of("-Xmx256m", "-Duffd4j.test.pagerUids=" + NOBODY),
                    socket.toString(), Long.toString(64L << 20), "7", "2");
            Matcher m = PagerTest.RESULT.matcher(r.output());
            assertTrue(r.ok() && m.find(), r.describe());
            assertEquals(0, Long.parseLong(m.group(2)), "wrong words\n" + r.describe());
            assertTrue(pager.process().isAlive(), "the pager serves on");
        }
    }
}
