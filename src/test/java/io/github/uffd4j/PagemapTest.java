package io.github.uffd4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bit 57 of /proc/PID/pagemap (userfaultfd write protection) and the other entry flags, read
 * through {@link Pagemap} for this process, for this process by its pid, and for a small C
 * program that write-protects a page of its own.
 */
class PagemapTest {

    @Test
    void uffdWpBitFollowsWriteProtect() {
        TestSupport.assumeFeature(Feature.PAGEFAULT_FLAG_WP);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP).open();
             Mapping m = Memory.anonymous(4 * PAGE);
             Pagemap self = Pagemap.open();
             Pagemap byPid = Pagemap.open(ProcessHandle.current().pid())) {
            assertEquals(0L, self.entry(m.address()), "never touched: an empty entry");
            m.populateWrite(0, 4 * PAGE);
            uffd.register(m.segment(), RegisterMode.WP);
            for (Pagemap pm : List.of(self, byPid)) {
                assertTrue(pm.uffdWriteProtected(m.address(), 4 * PAGE).isEmpty(), pm + ": registered is not protected");
                assertTrue((pm.entry(m.address()) & Pagemap.PRESENT) != 0, pm + ": populated pages are present");
            }
            uffd.writeProtect(m.address() + PAGE, 2 * PAGE, true, 0);
            BitSet expected = new BitSet();
            expected.set(1, 3);
            for (Pagemap pm : List.of(self, byPid)) {
                assertEquals(expected, pm.uffdWriteProtected(m.address(), 4 * PAGE), pm.toString());
                assertTrue(pm.isUffdWriteProtected(m.address() + PAGE + 123), "any address inside the page");
                assertFalse(pm.isUffdWriteProtected(m.address()));
                long[] e = pm.entries(m.address(), 4 * PAGE);
                assertTrue((e[2] & Pagemap.UFFD_WP) != 0 && (e[2] & Pagemap.PRESENT) != 0, Long.toHexString(e[2]));
                assertTrue((e[0] & Pagemap.FILE_OR_SHARED) == 0, "private anonymous");
            }
            uffd.writeUnprotect(m.slice(PAGE, PAGE), 0);
            assertEquals(BitSet.valueOf(new long[]{0b100}), byPid.uffdWriteProtected(m.address(), 4 * PAGE));
            uffd.writeUnprotect(m.slice(2 * PAGE, PAGE), 0);
            assertFalse(self.isUffdWriteProtected(m.address() + 2 * PAGE), "unprotected: the bit is clear");
            uffd.unregister(m.segment());
        }
    }

    @Test
    void wpUnpopulatedMarksNeverTouchedPages() {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.WP_UNPOPULATED).open();
             Mapping m = Memory.anonymous(2 * PAGE);
             Pagemap pm = Pagemap.open()) {
            uffd.register(m.segment(), RegisterMode.WP);
            uffd.writeProtect(m.segment());
            long e = pm.entry(m.address());
            assertTrue((e & Pagemap.UFFD_WP) != 0 && (e & Pagemap.PRESENT) == 0, "a marker entry: 0x" + Long.toHexString(e));
            uffd.unregister(m.segment());
        }
    }

    @Test
    void anotherProcessesWriteProtectedPage(@TempDir Path dir) throws Exception {
        String cc = TestSupport.assumeCCompiler("to build the child process that write-protects its own page");
        Path source = dir.resolve("wpchild.c");
        Files.writeString(source, CHILD);
        Path exe = dir.resolve("wpchild");
        TestSupport.runCommand(List.of(cc, "-O", "-o", exe.toString(), source.toString(), "-I", Path.of("native-headers").toAbsolutePath().toString()));
        Process child = new ProcessBuilder(exe.toString()).redirectErrorStream(true).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII));
             OutputStream in = child.getOutputStream()) {
            String line = out.readLine();
            assertNotNull(line, "the child said nothing");
            assertTrue(line.startsWith("protected "), line);
            long address = Long.parseUnsignedLong(line.substring("protected ".length()).strip(), 16);
            try (Pagemap pm = Pagemap.open(child.pid())) {
                assertEquals(child.pid(), pm.pid());
                long[] e = pm.entries(address, 2 * PAGE);
                assertTrue((e[0] & Pagemap.UFFD_WP) != 0 && (e[0] & Pagemap.PRESENT) != 0, "0x" + Long.toHexString(e[0]));
                assertTrue((e[1] & Pagemap.UFFD_WP) == 0 && (e[1] & Pagemap.PRESENT) != 0, "0x" + Long.toHexString(e[1]));
                in.write('\n');
                in.flush();
                assertEquals("unprotected", out.readLine());
                assertFalse(pm.isUffdWriteProtected(address));
                in.close();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
                assertEquals(0, child.exitValue());
                UffdException gone = assertThrows(UffdException.class, () -> pm.entry(address));
                assertEquals("ESRCH", gone.errnoName(), gone.getMessage());
                assertTrue(gone.getMessage().contains("exited"), gone.getMessage());
            }
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aProcessThatDoesNotExistIsAClearError() {
        UffdException e = assertThrows(UffdException.class, () -> Pagemap.open(Integer.MAX_VALUE));
        assertEquals("open(/proc/2147483647/pagemap)", e.call());
        assertEquals("ENOENT", e.errnoName());
        assertTrue(e.getMessage().contains("no process 2147483647"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Pagemap.open(0));
        assertThrows(IllegalArgumentException.class, () -> Pagemap.open(-5));
        assertThrows(IllegalArgumentException.class, () -> Pagemap.open(1L << 40));
    }

    @Test
    void rangesAreCheckedAndClosedIsClosed() {
        Pagemap pm = Pagemap.open();
        assertThrows(IllegalArgumentException.class, () -> pm.entries(1, PAGE));
        assertThrows(IllegalArgumentException.class, () -> pm.entries(0, 0));
        assertThrows(IllegalArgumentException.class, () -> pm.entry(-1));
        assertArrayEquals(new long[1], pm.entries(0, PAGE), "nothing is mapped at 0");
        pm.close();
        assertThrows(IllegalStateException.class, () -> pm.entry(0));
        pm.close(); // idempotent
    }

    /** Maps two pages, write-protects the first through its own userfaultfd, reports, and waits. */
    private static final String CHILD = """
            #define _GNU_SOURCE
            #include "uffd4j.h"
            #include <stdio.h>
            #include <stdlib.h>
            static void die(const char *what) { perror(what); exit(1); }
            int main(void) {
                long page = sysconf(_SC_PAGESIZE);
                char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (m == MAP_FAILED) die("mmap");
                m[0] = 1; m[page] = 2;
                int uffd = (int) syscall(SYS_userfaultfd, O_CLOEXEC);
                if (uffd < 0) die("userfaultfd");
                struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
                if (ioctl(uffd, UFFDIO_API, &api)) die("UFFDIO_API");
                struct uffdio_register reg = { .range = { (unsigned long) m, 2 * page }, .mode = UFFDIO_REGISTER_MODE_WP };
                if (ioctl(uffd, UFFDIO_REGISTER, &reg)) die("UFFDIO_REGISTER");
                struct uffdio_writeprotect wp = { .range = { (unsigned long) m, page }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
                if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) die("UFFDIO_WRITEPROTECT");
                printf("protected %lx\\n", (unsigned long) m);
                fflush(stdout);
                if (getchar() == EOF) return 2;
                wp.mode = 0;
                if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) die("UFFDIO_WRITEPROTECT off");
                printf("unprotected\\n");
                fflush(stdout);
                while (getchar() != EOF) { }
                return 0;
            }
            """;
}
