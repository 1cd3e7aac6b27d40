package io.github.uffd4j.snapshot;

/**
 * How the application holds its writers still while a snapshot write-protects the memory (a few
 * milliseconds for a gigabyte): the instant of the snapshot. {@link #pause} returns once no write
 * is under way and none will start; {@link #resume} lets them go on. Writers that are not held
 * still can make a write that races with the protection land on either side of the instant.
 */
public interface Quiesce {

    /** For memory nothing writes while {@link LiveSnapshots#snapshot} runs: no pause. */
    Quiesce NONE = new Quiesce() {
        @Override
        public void pause() {
        }

        @Override
        public void resume() {
        }
    };

    /**
     * Writers that hold {@code lock}'s read lock around each write (many at once): pausing takes
     * its write lock, which waits for the writes under way and holds off new ones; resuming
     * releases it. {@link LiveSnapshots#snapshot} and {@link TrackedSnapshots#snapshot} call both
     * on the thread that called them, as a {@link java.util.concurrent.locks.ReentrantReadWriteLock}
     * requires.
     *
     * @param lock the lock the writers share
     * @return a quiesce over it
     */
    static Quiesce of(java.util.concurrent.locks.ReadWriteLock lock) {
        java.util.Objects.requireNonNull(lock, "lock");
        return new Quiesce() {
            @Override
            public void pause() {
                lock.writeLock().lock();
            }

            @Override
            public void resume() {
                lock.writeLock().unlock();
            }
        };
    }

    /** Returns once the writers are still. */
    void pause();

    /** Lets the writers go on. Called once after every {@link #pause} that returned. */
    void resume();
}
