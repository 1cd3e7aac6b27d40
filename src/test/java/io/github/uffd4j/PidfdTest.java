package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pidfd against real processes: exit notification, pidfd_getfd, and the errors. */
class PidfdTest {

    @Test
    void aRunningProcessHasNotExitedAndOneThatEndsIsSeenToExit() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "0.3").start();
        try (Pidfd p = Pidfd.open(sleeper.pid())) {
            assertFalse(p.hasExited());
            assertTrue(Pidfd.startTime(sleeper.pid()) > 0);
            assertTrue(p.awaitExit(Duration.ofSeconds(30)), "sleep 0.3 exits");
            assertTrue(p.hasExited());
        }
        sleeper.waitFor();
        assertEquals(-1, Pidfd.startTime(sleeper.pid()), "reaped: no /proc entry");
        UffdException e = assertThrows(UffdException.class, () -> Pidfd.open(sleeper.pid()));
        assertEquals("ESRCH", e.errnoName());
        assertTrue(e.getMessage().contains("pidfd_open"), e.getMessage());
    }

    @Test
    void awaitExitTimesOutAndCloseWakesAWaiter() throws Exception {
        try (Pidfd self = Pidfd.open(ProcessHandle.current().pid())) {
            assertFalse(self.awaitExit(Duration.ofMillis(50)));
            CompletableFuture<Throwable> waiter = CompletableFuture.supplyAsync(() -> {
                try {
                    self.awaitExit(null);
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Thread.sleep(100);
            self.close();
            assertInstanceOf(UffdClosedException.class, waiter.get(10, TimeUnit.SECONDS));
            assertThrows(UffdClosedException.class, () -> self.takeDescriptor(0));
        }
    }

    @Test
    void takeDescriptorCopiesAnotherProcesssDescriptorAndNamesWhatIsWrong() throws Exception {
        try (Pidfd self = Pidfd.open(ProcessHandle.current().pid());
             Userfaultfd uffd = Userfaultfd.builder().open()) {
            int copy = self.takeDescriptor(uffd.fd());
            try {
                assertEquals("anon_inode:[userfaultfd]", Files.readSymbolicLink(Path.of("/proc/self/fd/" + copy)).toString());
            } finally {
                UnixSocket.closeDescriptor(copy);
            }
            UffdException e = assertThrows(UffdException.class, () -> self.takeDescriptor(999_999));
            assertEquals("EBADF", e.errnoName());
            assertTrue(e.getMessage().contains("no open descriptor 999999"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> self.takeDescriptor(-1));
        }
        assertThrows(IllegalArgumentException.class, () -> Pidfd.open(0));
    }
}
