package io.github.uffd4j.snapshot;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One point-in-time snapshot being written ({@link LiveSnapshots#snapshot}): the memory as it was
 * at the instant it was taken, saved in the background while writers go on; a write to a page not
 * yet saved saves the page's old contents first. Thread safe.
 */
public final class Snapshot {

    private static final int UNSAVED = 0;
    private static final int CLAIMED = 1;
    private static final int SAVED = 2;
    /** Pages a background save claims, reads and writes at once. */
    private static final int RUN = 64;

    /** How far a snapshot got. */
    public record Progress(long pages, long savedInBackground, long savedBeforeWrite, long zeroPagesLeftOut, long bytesWritten,
                           boolean done) {
    }

    private final LiveSnapshots owner;
    private final Path file;
    private final SnapshotWriter writer;
    private final int pageSize;
    private final long pages;
    private final AtomicIntegerArray state;
    private final AtomicLong background = new AtomicLong();
    private final AtomicLong beforeWrite = new AtomicLong();
    private final AtomicLong zeros = new AtomicLong();
    private final AtomicLong settled = new AtomicLong();
    private final CompletableFuture<Path> done = new CompletableFuture<>();
    private final SnapshotEvent event = new SnapshotEvent();
    private final AtomicBoolean recorded = new AtomicBoolean();
    private volatile long pauseNanos;
    private volatile boolean failed;

    Snapshot(LiveSnapshots owner, Path file, SnapshotWriter writer, int pageSize, long pages) {
        event.begin();
        this.owner = owner;
        this.file = file;
        this.writer = writer;
        this.pageSize = pageSize;
        this.pages = pages;
        this.state = new AtomicIntegerArray((int) pages);
    }

    /** The file it is written to (it appears under this name, whole, once the snapshot is done). */
    public Path file() {
        return file;
    }

    /** How long the writers were held still while the memory was write-protected. */
    public Duration pause() {
        return Duration.ofNanos(pauseNanos);
    }

    void pausedFor(long nanos) {
        this.pauseNanos = nanos;
    }

    public Progress progress() {
        return new Progress(pages, background.get(), beforeWrite.get(), zeros.get(), writer.bytesWritten(), done.isDone());
    }

    /** Completes with the file once it is whole, or with the error that stopped the snapshot. */
    public CompletableFuture<Path> completion() {
        return done.copy();
    }

    /** Waits at most {@code timeout} for the snapshot; returns its file. */
    public Path await(Duration timeout) throws SnapshotException, InterruptedException, TimeoutException {
        try {
            return done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof SnapshotException s ? s
                    : new SnapshotException("snapshot " + file + " failed: " + e.getCause(), e.getCause());
        }
    }

    public boolean isDone() {
        return done.isDone();
    }

    /** The background save: every page not saved yet, in order, in runs; then the file is finished. */
    void saveAll() {
        try {
            for (long p = 0; p < pages && !failed; ) {
                int n = 0;
                while (n < RUN && p + n < pages && state.compareAndSet((int) (p + n), UNSAVED, CLAIMED)) {
                    n++;
                }
                if (n == 0) {
                    p++; // saved (or being saved) before a write
                    continue;
                }
                save(p, n);
                background.addAndGet(n);
                p += n;
            }
            while (settled.get() < pages && !failed) {
                Thread.onSpinWait(); // a copy before a write is finishing: microseconds
                Thread.sleep(0, 100_000);
            }
            if (!failed) {
                writer.finish();
                record(null);
                done.complete(file);
            }
        } catch (Throwable t) {
            fail(t);
        }
    }

    /** A write fault on {@code page}: save it first unless the background has it; the caller wakes the writer. */
    boolean beforeWrite(long page) {
        if (failed || done.isDone()) {
            return true;
        }
        if (!state.compareAndSet((int) page, UNSAVED, CLAIMED)) {
            return state.get((int) page) == SAVED; // CLAIMED: the background unprotects it and wakes the writer
        }
        try {
            save(page, 1);
            beforeWrite.incrementAndGet();
        } catch (Throwable t) {
            fail(t);
        }
        return false; // save unprotected and woke it
    }

    /** Writes pages [first, first + n) (claimed) to the file, leaving out pages of zeros, then unprotects and wakes them. */
    private void save(long first, int n) throws Exception {
        zeros.addAndGet(writer.writeLeavingOutZeros(first, owner.memory().asSlice(first * pageSize, (long) n * pageSize)));
        for (long p = first; p < first + n; p++) {
            state.set((int) p, SAVED);
        }
        settled.addAndGet(n);
        owner.unprotect(first * pageSize, (long) n * pageSize);
    }

    /** Stops the snapshot: every page unprotected (no writer waits), the temporary file removed. */
    void fail(Throwable t) {
        if (failed) {
            return;
        }
        failed = true;
        try {
            owner.unprotect(0, pages * pageSize);
        } catch (RuntimeException e) {
            t.addSuppressed(e);
        }
        writer.abort();
        record(t);
        done.completeExceptionally(t instanceof SnapshotException ? t : new SnapshotException("snapshot " + file + " failed: " + t, t));
    }

    /** The JFR event of this snapshot, once: when its file is whole or it failed. */
    private void record(Throwable failure) {
        if (!recorded.compareAndSet(false, true)) {
            return;
        }
        event.end();
        if (event.shouldCommit()) {
            Progress p = progress();
            event.file = file.toString();
            event.kind = "live";
            event.memorySize = pages * pageSize;
            event.pagesStored = p.savedInBackground() + p.savedBeforeWrite() - p.zeroPagesLeftOut();
            event.savedInBackground = p.savedInBackground();
            event.savedBeforeWrite = p.savedBeforeWrite();
            event.zeroPagesLeftOut = p.zeroPagesLeftOut();
            event.bytesWritten = p.bytesWritten();
            event.pauseNanos = pauseNanos;
            event.failure = failure == null ? null : failure.toString();
            event.commit();
        }
    }
}
