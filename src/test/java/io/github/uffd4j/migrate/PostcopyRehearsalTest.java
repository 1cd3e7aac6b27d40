package io.github.uffd4j.migrate;

import io.github.uffd4j.Feature;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.handler.FaultService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target's rehearsal of a postcopy (run while the precopy streams in) moves real pages
 * through the real classes, gets every byte right, and ends promptly when the switchover comes,
 * leaving no thread behind.
 */
@Timeout(60)
class PostcopyRehearsalTest {

    @Test
    void roundsMoveEveryPageExactlyAndStopLeavesNoThreads() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        for (MigrationTarget.Backing backing : List.of(MigrationTarget.Backing.ANONYMOUS, MigrationTarget.Backing.SHMEM)) {
            MigrationTarget.Options options = MigrationTarget.Options.DEFAULT.withBacking(backing);
            try (FaultService service = MigratedMemory.newService((int) TestSupport.PAGE, options)) {
                PostcopyRehearsal rehearsal = PostcopyRehearsal.start(service, options);
                long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (rehearsal.rounds() < 3 && !rehearsal.ended() && System.nanoTime() < until) {
                    Thread.sleep(10);
                }
                rehearsal.stop();
                awaitEnded(rehearsal, backing.toString());
                assertTrue(rehearsal.rounds() >= 3, backing + ": at least 3 rounds completed, " + rehearsal.rounds() + " did");
                assertEquals(0, rehearsal.mismatches(), backing + ": every round's memory equals the stand-in source's");
            }
            assertNoRehearsalThreads();
        }
    }

    @Test
    void stopInTheMiddleOfARoundReturnsAtOnce() throws Exception {
        MigrationTarget.Options options = MigrationTarget.Options.DEFAULT;
        try (FaultService service = MigratedMemory.newService((int) TestSupport.PAGE, options)) {
            for (int delay : new int[] {0, 5, 30, 120}) {
                PostcopyRehearsal rehearsal = PostcopyRehearsal.start(service, options);
                Thread.sleep(delay);
                long t0 = System.nanoTime();
                rehearsal.stop();
                long tookMs = (System.nanoTime() - t0) / 1_000_000;
                // stop() waits 20 ms at most: the switchover (the writers stopped) never waits for a round's end;
                // 500 ms leaves room for a loaded machine's scheduling, not for a round's 2 s waits
                assertTrue(tookMs < 500, "stopped after " + delay + " ms: stop() took " + tookMs + " ms");
                awaitEnded(rehearsal, "stopped after " + delay + " ms");
                assertEquals(0, rehearsal.mismatches());
            }
        }
        assertNoRehearsalThreads();
    }

    /** The rehearsal's thread ends soon after stop() returned (it may still be tearing its round down then). */
    private static void awaitEnded(PostcopyRehearsal rehearsal, String what) throws InterruptedException {
        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!rehearsal.ended() && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        assertTrue(rehearsal.ended(), what + ": the rehearsal's thread ended");
    }

    /** The rehearsal's own threads and those of the postcopies it ran are gone (they end on their own after the close). */
    private static void assertNoRehearsalThreads() throws InterruptedException {
        List<String> alive = List.of();
        for (int i = 0; i < 200; i++) {
            alive = Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                    .filter(n -> n.startsWith("uffd4j-rehearsal"))
                    .toList();
            if (alive.isEmpty()) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("threads left behind: " + alive);
    }
}
