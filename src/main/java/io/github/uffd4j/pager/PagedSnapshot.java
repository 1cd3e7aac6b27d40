package io.github.uffd4j.pager;

import io.github.uffd4j.snapshot.Snapshot;
import io.github.uffd4j.snapshot.SnapshotException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A point-in-time snapshot of a {@link PagedMemory.Region} that the pager is writing
 * ({@link PagedMemory.Region#snapshot}). Its state lives in the pager: {@link #progress} and
 * {@link #await} ask it. Thread safe.
 */
public final class PagedSnapshot {

    /** How often {@link #await} asks the pager. */
    private static final Duration POLL = Duration.ofMillis(10);

    private final PagedMemory.Region region;
    private final Path file;
    private final Duration pause;
    private volatile PagerProtocol.SnapshotReply last;

    PagedSnapshot(PagedMemory.Region region, Path file, PagerProtocol.SnapshotReply first) {
        this.region = region;
        this.file = file;
        this.pause = Duration.ofNanos(first.pauseNanos());
        this.last = first;
    }

    /**
     * The file the pager writes (it appears under this name, whole, once the snapshot is done).
     *
     * @return the absolute path
     */
    public Path file() {
        return file;
    }

    /**
     * How long the pager took to note the present pages and write-protect the region: the part
     * of the writers' pause that the snapshot itself costs.
     *
     * @return the pager's time for it
     */
    public Duration pause() {
        return pause;
    }

    /**
     * How far the snapshot got, asked of the pager now (once it is done, the last answer).
     *
     * @return the counts of pages saved so far, and whether it is over
     * @throws PagerException when no pager serves the memory now
     */
    public Snapshot.Progress progress() {
        return toProgress(refresh());
    }

    /**
     * Whether the snapshot is over: its file is whole, or it failed (asks the pager until it is).
     *
     * @return true once it is over
     */
    public boolean isDone() {
        return refresh().done();
    }

    /**
     * Waits at most {@code timeout} for the snapshot; returns its file.
     *
     * @param timeout how long to wait at most
     * @return the file, whole
     * @throws SnapshotException    if the snapshot failed (the message says why), or the pager went
     *                              away before it was done
     * @throws InterruptedException if this thread was interrupted while waiting
     * @throws TimeoutException     if the snapshot is not done within {@code timeout}
     */
    public Path await(Duration timeout) throws SnapshotException, InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (;;) {
            PagerProtocol.SnapshotReply r;
            try {
                r = refresh();
            } catch (PagerException e) {
                throw new SnapshotException("snapshot " + file + ": the pager cannot be asked how it went: " + e.getMessage(), e);
            }
            if (r.done()) {
                if (!r.failure().isEmpty()) {
                    throw new SnapshotException(r.failure());
                }
                return file;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("snapshot " + file + " not done within " + timeout + " (" + toProgress(r) + ")");
            }
            Thread.sleep(Math.max(1, Math.min(POLL.toMillis(), left / 1_000_000)));
        }
    }

    private PagerProtocol.SnapshotReply refresh() {
        PagerProtocol.SnapshotReply r = last;
        if (!r.done()) {
            r = region.snapshotStatus();
            last = r;
        }
        return r;
    }

    private static Snapshot.Progress toProgress(PagerProtocol.SnapshotReply r) {
        return new Snapshot.Progress(r.pages(), r.savedInBackground(), r.savedBeforeWrite(), r.zeroPagesLeftOut(), r.bytesWritten(),
                r.done());
    }

    @Override
    public String toString() {
        return "PagedSnapshot[" + file + ", " + toProgress(last) + "]";
    }
}
