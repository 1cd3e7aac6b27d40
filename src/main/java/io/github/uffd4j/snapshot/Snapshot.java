package io.github.uffd4j.snapshot;

import io.github.uffd4j.internal.Jfr;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
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
    /** Copied into memory, not written to the file yet: a write may go ahead. */
    private static final int COPIED = 3;
    /** Bytes a background save claims, copies and writes at once (at least one page). */
    private static final int RUN_BYTES = 256 << 10;

    /**
     * How far a snapshot got.
     *
     * @param pages             pages of the memory
     * @param savedInBackground pages saved so far by the background save
     * @param savedBeforeWrite  pages saved so far before a write to them
     * @param zeroPagesLeftOut  pages of zeros among those saved, left out of the file
     * @param bytesWritten      bytes of pages written to the file so far
     * @param done              whether the snapshot is over: its file is whole, or it failed
     */
    public record Progress(long pages, long savedInBackground, long savedBeforeWrite, long zeroPagesLeftOut, long bytesWritten,
                           boolean done) {
    }

    /** The memory being saved: where its pages' contents come from, and how a page's protection is lifted. */
    interface Target {
        /** Copies the contents of the pages at {@code [offset, offset + dst.byteSize())} into {@code dst}. */
        void read(long offset, MemorySegment dst) throws Exception;

        /** Lifts the write protection of those pages and wakes writers waiting there. */
        void unprotect(long offset, long length);
    }

    private final Target owner;
    private final Path file;
    private final SnapshotWriter writer;
    private final int pageSize;
    private final long pages;
    private final AtomicIntegerArray state;
    /** Where the handler thread copies a page when every buffer of {@link #free} is taken. */
    private final MemorySegment faultCopy;
    /** Buffers of one page for copies before writes, and the copies waiting to be written (by the background thread). */
    private final ArrayBlockingQueue<MemorySegment> free;
    private final ArrayBlockingQueue<Copy> copies;
    /** Where the background save copies a run of pages before letting writers go on. */
    private final MemorySegment runCopy;
    private final int run;
    private final AtomicLong background = new AtomicLong();
    private final AtomicLong beforeWrite = new AtomicLong();
    private final AtomicLong zeros = new AtomicLong();
    private final AtomicLong settled = new AtomicLong();
    private final CompletableFuture<Path> done = new CompletableFuture<>();
    /** A begun SnapshotEvent, or null when no recorder runs (typed Object: the class exists only with jdk.jfr). */
    private final Object event = beginEvent();
    private final AtomicBoolean recorded = new AtomicBoolean();
    private volatile long pauseNanos;
    private volatile boolean failed;

    /** The bytes of a copy pool: pages copied aside before writes wait there for the background thread. */
    private static final long COPY_POOL_BYTES = 16L << 20;

    /** A pool for the pages copied aside before writes (the fault side copies, the background thread writes them). */
    static MemorySegment newCopyPool(int pageSize) {
        return Arena.ofAuto().allocate(Math.max(pageSize, COPY_POOL_BYTES / pageSize * pageSize), 4096);
    }

    Snapshot(Target owner, Path file, SnapshotWriter writer, int pageSize, long pages, MemorySegment copyPool) {
        this.owner = owner;
        this.file = file;
        this.writer = writer;
        this.pageSize = pageSize;
        this.pages = pages;
        this.state = new AtomicIntegerArray((int) pages);
        this.faultCopy = Arena.ofAuto().allocate(pageSize, 4096);
        int buffers = (int) (copyPool.byteSize() / pageSize);
        this.free = new ArrayBlockingQueue<>(buffers);
        this.copies = new ArrayBlockingQueue<>(buffers);
        for (int i = 0; i < buffers; i++) {
            free.add(copyPool.asSlice((long) i * pageSize, pageSize));
        }
        this.run = Math.max(1, RUN_BYTES / pageSize);
        this.runCopy = Arena.ofAuto().allocate((long) run * pageSize, 4096);
    }

    /**
     * The file it is written to (it appears under this name, whole, once the snapshot is done).
     *
     * @return the file's path
     */
    public Path file() {
        return file;
    }

    /**
     * How long the writers were held still while the memory was write-protected.
     *
     * @return the time from {@link Quiesce#pause} returning to {@link Quiesce#resume} being called
     */
    public Duration pause() {
        return Duration.ofNanos(pauseNanos);
    }

    void pausedFor(long nanos) {
        this.pauseNanos = nanos;
    }

    /**
     * How far the snapshot got, at this moment.
     *
     * @return the counts of pages saved so far, and whether it is over
     */
    public Progress progress() {
        return new Progress(pages, background.get(), beforeWrite.get(), zeros.get(), writer.bytesWritten(), done.isDone());
    }

    /**
     * Completes with the file once it is whole, or with the error that stopped the snapshot.
     *
     * @return a new future for the snapshot's end; completing it does not affect the snapshot
     */
    public CompletableFuture<Path> completion() {
        return done.copy();
    }

    /**
     * Waits at most {@code timeout} for the snapshot; returns its file.
     *
     * @param timeout how long to wait at most
     * @return the file, whole
     * @throws SnapshotException    if the snapshot failed (the cause says why)
     * @throws InterruptedException if this thread was interrupted while waiting
     * @throws TimeoutException     if the snapshot is not done within {@code timeout}
     */
    public Path await(Duration timeout) throws SnapshotException, InterruptedException, TimeoutException {
        try {
            return done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof SnapshotException s ? s
                    : new SnapshotException("snapshot " + file + " failed: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Whether the snapshot is over: its file is whole, or it failed. Plain Java stores into the
     * memory are safe only once it is.
     *
     * @return true once the snapshot is over
     */
    public boolean isDone() {
        return done.isDone();
    }

    /**
     * The background save: every page not saved yet, in order, in runs, and the pages the handler
     * copied aside before writes (first, so their buffers come back soon); then the file is finished.
     */
    void saveAll() {
        try {
            for (long p = 0; p < pages && !failed; ) {
                writeCopies();
                int n = 0;
                while (n < run && p + n < pages && state.compareAndSet((int) (p + n), UNSAVED, CLAIMED)) {
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
                Copy c = copies.poll(100, TimeUnit.MICROSECONDS); // a copy before a write is finishing: microseconds
                if (c != null) {
                    writeCopy(c);
                }
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

    /** A page the handler copied aside before a write, for the background thread to write to the file. */
    private record Copy(long page, MemorySegment contents, boolean pooled) {
    }

    private void writeCopies() throws Exception {
        for (Copy c; (c = copies.poll()) != null; ) {
            writeCopy(c);
        }
    }

    private void writeCopy(Copy c) throws Exception {
        zeros.addAndGet(writer.writeLeavingOutZeros(c.page(), c.contents()));
        if (c.pooled()) {
            free.add(c.contents());
        }
        state.set((int) c.page(), SAVED);
        settled.incrementAndGet();
    }

    /**
     * A write fault on {@code page} (on the one handler thread): unless the background has it, its
     * old contents are copied aside and the page unprotected (the writer goes on at once); the
     * background thread writes the copy to the file, or this thread does when every buffer for
     * copies is taken. Returns whether the caller must unprotect and wake the writer.
     */
    boolean beforeWrite(long page) {
        if (failed || done.isDone()) {
            return true;
        }
        if (!state.compareAndSet((int) page, UNSAVED, CLAIMED)) {
            return state.get((int) page) != CLAIMED; // CLAIMED: the background unprotects it and wakes the writer
        }
        try {
            MemorySegment buffer = free.poll();
            MemorySegment copy = buffer != null ? buffer : faultCopy;
            owner.read(page * pageSize, copy);
            state.set((int) page, COPIED);
            owner.unprotect(page * pageSize, pageSize);
            beforeWrite.incrementAndGet();
            if (buffer != null) {
                copies.add(new Copy(page, buffer, true));
            } else {
                writeCopy(new Copy(page, copy, false)); // every buffer is waiting to be written: this thread writes
            }
        } catch (Throwable t) {
            fail(t);
        }
        return false; // unprotected and woken here
    }

    /**
     * A write fault on {@code page} in a service that lifts the protection itself once this
     * returns (a {@link io.github.uffd4j.handler.WriteFaultHook}, possibly on several handler
     * threads): the page's old contents are copied aside, or, when another thread is copying them,
     * this one waits until they are (microseconds: a copy in memory, never the disk).
     */
    void saveBeforeWrite(long page) {
        if (failed || done.isDone()) {
            return;
        }
        if (!state.compareAndSet((int) page, UNSAVED, CLAIMED)) {
            awaitCopied(page);
            return;
        }
        try {
            MemorySegment buffer = free.poll();
            if (buffer == null) {
                // every buffer is waiting to be written: this thread writes its copy itself
                MemorySegment copy = Arena.ofAuto().allocate(pageSize, 4096);
                owner.read(page * pageSize, copy);
                state.set((int) page, COPIED);
                beforeWrite.incrementAndGet();
                writeCopy(new Copy(page, copy, false));
                return;
            }
            owner.read(page * pageSize, buffer);
            state.set((int) page, COPIED);
            beforeWrite.incrementAndGet();
            copies.add(new Copy(page, buffer, true));
        } catch (Throwable t) {
            fail(t);
        }
    }

    /** How long a write fault waits for another thread's copy of its page before the snapshot is given up. */
    private static final long COPY_WAIT_NANOS = 2_000_000_000L;

    /**
     * Waits while another thread copies {@code page} (spinning briefly, then parking). A copy that
     * does not come within {@link #COPY_WAIT_NANOS} fails the snapshot, and the write goes ahead:
     * the copying thread may itself be waiting for a fault that this thread's service must serve
     * (a read of another process's page that went missing), and a hook must never hang.
     */
    private void awaitCopied(long page) {
        long start = System.nanoTime();
        for (int spins = 0; state.get((int) page) == CLAIMED && !failed; spins++) {
            if (spins < 1000) {
                Thread.onSpinWait();
                continue;
            }
            if (System.nanoTime() - start > COPY_WAIT_NANOS) {
                fail(new SnapshotException("snapshot " + file + " given up: page " + page + " was not copied within "
                        + COPY_WAIT_NANOS / 1_000_000 + " ms of a write to it (the copying thread is stuck reading it)"));
                return;
            }
            java.util.concurrent.locks.LockSupport.parkNanos(20_000);
        }
    }

    /**
     * The background save of pages [first, first + n) (claimed): copied aside and unprotected
     * (writers waiting there go on), then written to the file, leaving out pages of zeros. A writer
     * thus waits for a copy in memory, never for the disk.
     */
    private void save(long first, int n) throws Exception {
        MemorySegment copy = runCopy.asSlice(0, (long) n * pageSize);
        owner.read(first * pageSize, copy);
        for (long p = first; p < first + n; p++) {
            state.set((int) p, COPIED);
        }
        owner.unprotect(first * pageSize, copy.byteSize());
        zeros.addAndGet(writer.writeLeavingOutZeros(first, copy));
        for (long p = first; p < first + n; p++) {
            state.set((int) p, SAVED);
        }
        settled.addAndGet(n);
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

    /**
     * A begun JFR event for a snapshot, or null when no recorder runs. Typed Object: code that
     * holds one must not need the event class (it exists only with jdk.jfr) until it casts.
     */
    static Object beginEvent() {
        if (!Jfr.started()) {
            return null;
        }
        SnapshotEvent e = new SnapshotEvent();
        e.begin();
        return e;
    }

    /** The JFR event of this snapshot, once: when its file is whole or it failed. */
    private void record(Throwable failure) {
        if (!recorded.compareAndSet(false, true) || event == null) {
            return;
        }
        SnapshotEvent event = (SnapshotEvent) this.event;
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
