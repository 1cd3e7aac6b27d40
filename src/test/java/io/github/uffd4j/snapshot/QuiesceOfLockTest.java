package io.github.uffd4j.snapshot;

import io.github.uffd4j.migrate.MigrationSource;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Quiesce#of} and {@link MigrationSource.Writers#of}: writers under a read lock are held off between pause and resume. */
class QuiesceOfLockTest {

    private static boolean aWriterGetsIn(ReentrantReadWriteLock lock) throws Exception {
        // another thread, as a writer would be (the pausing thread could re-enter its own lock)
        return CompletableFuture.supplyAsync(() -> {
            try {
                boolean in = lock.readLock().tryLock(50, TimeUnit.MILLISECONDS);
                if (in) {
                    lock.readLock().unlock();
                }
                return in;
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }).get(10, TimeUnit.SECONDS);
    }

    @Test
    void pauseHoldsWritersOffUntilResume() throws Exception {
        ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        Quiesce q = Quiesce.of(lock);
        assertTrue(aWriterGetsIn(lock));
        q.pause();
        assertFalse(aWriterGetsIn(lock), "paused: no write starts");
        q.resume();
        assertTrue(aWriterGetsIn(lock), "resumed: writes go on");
    }

    @Test
    void migrationWritersStopAndResumeThroughTheLock() throws Exception {
        ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        MigrationSource.Writers w = MigrationSource.Writers.of(lock);
        w.stop();
        assertFalse(aWriterGetsIn(lock));
        w.resume();
        assertTrue(aWriterGetsIn(lock));
    }

    @Test
    void pauseWaitsForTheWriteUnderWay() throws Exception {
        ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        Quiesce q = Quiesce.of(lock);
        lock.readLock().lock(); // a write under way, on this thread
        CompletableFuture<Void> paused = CompletableFuture.runAsync(() -> {
            q.pause();
            q.resume();
        });
        Thread.sleep(100);
        assertFalse(paused.isDone(), "pause returned while a write was under way");
        lock.readLock().unlock();
        paused.get(10, TimeUnit.SECONDS);
    }
}
