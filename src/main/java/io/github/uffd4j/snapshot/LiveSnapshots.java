package io.github.uffd4j.snapshot;

import io.github.uffd4j.Doorbell;
import io.github.uffd4j.EventBuffer;
import io.github.uffd4j.EventKind;
import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.internal.WriteProtection;
import io.github.uffd4j.source.Compression;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Point-in-time snapshots of off-heap memory while writers keep writing. {@link #of} registers the
 * memory (anonymous, shared or hugetlb) with a userfaultfd of its own in write-protect mode and
 * starts a handler thread; {@link #snapshot} holds the writers still (your {@link Quiesce}) only
 * while it write-protects every page, including pages never touched, and returns: the pages are
 * written to the file in the background, and a write to a page not saved yet waits while the page's
 * old contents are saved (copy before write). The file holds the memory exactly as it was at that
 * instant ({@link SnapshotFile} restores it).
 *
 * <p><b>Who may write.</b> The handler is a thread of this JVM, so a write that faults must not be a
 * plain Java store: a Java thread stopped in a fault holds up every safepoint, and the JVM can
 * freeze. Write from native code, or from Java through {@link Memory#writeThroughKernel} (the
 * fault is then taken inside a system call, where the thread does not hold up safepoints). Plain
 * Java stores are safe only while no snapshot runs ({@link Snapshot#isDone}). Reads are always
 * safe: write protection never stops a read. For plain Java writers, map the memory with
 * {@link io.github.uffd4j.pager.PagedMemory} and let the pager take the snapshot
 * ({@link io.github.uffd4j.pager.PagedMemory.Region#snapshot}), or use {@link TrackedSnapshots}.
 *
 * <p>One snapshot at a time. Needs Linux 6.4+ (UFFD_FEATURE_WP_UNPOPULATED, so that pages never
 * touched are protected too); shared memory and hugetlb also need WP_HUGETLBFS_SHMEM (5.19).
 *
 * <pre>{@code
 * try (LiveSnapshots snaps = LiveSnapshots.of(memory)) {
 *     Snapshot s = snaps.snapshot(Path.of("state.u4s"), writers);   // writers: pause()/resume()
 *     ...                                                          // writers go on at once
 *     s.await(Duration.ofMinutes(1));
 * }
 * }</pre>
 */
public final class LiveSnapshots implements AutoCloseable {

    private final MemorySegment memory;
    private final int pageSize;
    private final Userfaultfd uffd;
    private final Doorbell stop;
    private final Thread handler;
    /** Buffers for pages copied aside before writes (the handler copies, the background thread writes them). */
    private final MemorySegment copyPool;
    private volatile Snapshot current;
    private Thread saver;
    private volatile boolean closed;

    private LiveSnapshots(MemorySegment memory, int pageSize) {
        this.memory = memory;
        this.pageSize = pageSize;
        this.copyPool = Snapshot.newCopyPool(pageSize);
        // WP_UNPOPULATED: pages never touched are protected too
        this.uffd = WriteProtection.register("live snapshots", memory, List.of(Feature.WP_UNPOPULATED));
        Doorbell bell;
        try {
            bell = Doorbell.create();
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
        this.stop = bell;
        this.handler = Thread.ofPlatform().daemon().name("uffd4j-snapshot-faults").start(this::serve);
    }

    /**
     * Snapshots of {@code memory} (page-aligned, of this process), in pages of the system's page size.
     *
     * @param memory the memory to snapshot
     * @return the snapshots of it, with their handler thread started; close it when done
     */
    public static LiveSnapshots of(MemorySegment memory) {
        return of(memory, Memory.pageSize());
    }

    /**
     * Snapshots of {@code memory} in pages of {@code pageSize} bytes (2 MiB for 2 MiB hugetlb memory).
     *
     * @param memory   the memory to snapshot, aligned to {@code pageSize}
     * @param pageSize the page size of the memory
     * @return the snapshots of it, with their handler thread started; close it when done
     */
    public static LiveSnapshots of(MemorySegment memory, long pageSize) {
        WriteProtection.checkMemory("snapshots", memory, pageSize);
        return new LiveSnapshots(memory, (int) pageSize);
    }

    /** What a snapshot saves: this memory, read directly (a read never faults on write protection). */
    private final Snapshot.Target target = new Snapshot.Target() {
        @Override
        public void read(long offset, MemorySegment dst) {
            MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
        }

        @Override
        public void unprotect(long offset, long length) {
            LiveSnapshots.this.unprotect(offset, length);
        }
    };

    /**
     * Takes a snapshot into {@code file}: calls {@code writers.pause()}, write-protects the whole
     * memory, calls {@code writers.resume()} and returns; the pages are written in the background
     * ({@link Snapshot#await}). The file appears under its name only once it is whole.
     *
     * @param file    where the snapshot is written (a file already there is replaced once it is whole)
     * @param writers holds the application's writers still while the memory is write-protected
     * @return the snapshot, being written in the background
     * @throws IllegalStateException if a snapshot is still being written, or this is closed
     * @throws IOException           if the file cannot be created
     */
    public Snapshot snapshot(Path file, Quiesce writers) throws IOException {
        return snapshot(file, writers, Compression.NONE);
    }

    /**
     * Takes a snapshot as {@link #snapshot(Path, Quiesce)} does, each stored page compressed with
     * {@code compression} by the background thread (the writers' side is unchanged: a write to a
     * page not saved yet waits for a copy in memory, never for the compressor). ZSTD and LZ4 need
     * the optional aircompressor library; without it this fails before anything is protected.
     *
     * @param file        where the snapshot is written
     * @param writers     holds the application's writers still while the memory is write-protected
     * @param compression how each stored page is compressed
     * @return the snapshot, being written in the background
     * @throws IllegalStateException if a snapshot is still being written, or this is closed
     * @throws IOException           if the file cannot be created
     */
    public synchronized Snapshot snapshot(Path file, Quiesce writers, Compression compression) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(writers, "writers");
        Objects.requireNonNull(compression, "compression");
        if (closed) {
            throw new IllegalStateException("snapshot: closed");
        }
        if (current != null && !current.isDone()) {
            throw new IllegalStateException("snapshot: " + current.file() + " is still being written; one at a time");
        }
        long pages = memory.byteSize() / pageSize;
        SnapshotWriter w = new SnapshotWriter(file, SnapshotFormat.FULL, pageSize, memory.byteSize(), 0, false, compression);
        Snapshot s = new Snapshot(target, file, w, pageSize, pages, copyPool);
        current = s; // before the protection: a fault right after it finds the snapshot to save into
        try {
            writers.pause();
        } catch (RuntimeException | Error e) {
            s.fail(e); // nothing is protected yet: this only removes the temporary file
            throw e;
        }
        long t0 = System.nanoTime();
        try {
            uffd.writeProtect(memory.address(), memory.byteSize(), true, 0);
        } catch (RuntimeException e) {
            s.fail(e);
            throw e;
        } finally {
            s.pausedFor(System.nanoTime() - t0);
            writers.resume();
        }
        saver = Thread.ofPlatform().daemon().name("uffd4j-snapshot-writer").start(s::saveAll);
        return s;
    }

    void unprotect(long offset, long length) {
        uffd.writeProtect(memory.address() + offset, length, false, 0); // and wake the writers waiting there
    }

    /** The handler thread: write faults, each saved (or left to the background save) and then woken. */
    private void serve() {
        try (EventBuffer buf = EventBuffer.allocate(64)) {
            while (!closed) {
                int n;
                try {
                    n = uffd.read(buf, Duration.ofDays(365), stop);
                } catch (UffdClosedException e) {
                    return;
                }
                for (int i = 0; i < n; i++) {
                    if (buf.kind(i) != EventKind.PAGEFAULT) {
                        continue;
                    }
                    long offset = (buf.faultAddress(i) - memory.address()) / pageSize * pageSize;
                    Snapshot s = current;
                    if (s == null || s.beforeWrite(offset / pageSize)) {
                        unprotect(offset, pageSize);
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            if (!closed) {
                // the handler cannot go on: no writer may be left waiting
                Snapshot s = current;
                if (s != null) {
                    s.fail(e);
                }
                try {
                    unprotect(0, memory.byteSize());
                } catch (RuntimeException ignored) {
                    // closed under us
                }
            }
        }
    }

    /**
     * Stops: a snapshot still being written is abandoned (its temporary file removed, nothing under
     * its name), every page unprotected, the memory unregistered. The memory itself stays yours.
     */
    @Override
    public void close() {
        Thread s;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            s = saver;
        }
        Snapshot c = current;
        if (c != null && !c.isDone()) {
            c.fail(new SnapshotException("snapshot " + c.file() + " abandoned: LiveSnapshots closed"));
        }
        stop.ring();
        try {
            handler.join(5_000);
            if (s != null) {
                s.join(5_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            uffd.unregister(memory); // wakes anything still waiting
        } catch (RuntimeException ignored) {
            // the memory went away: nothing left to unregister
        }
        uffd.close();
        stop.close();
    }
}
