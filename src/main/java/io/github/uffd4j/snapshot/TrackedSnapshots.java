package io.github.uffd4j.snapshot;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.PageRegion;
import io.github.uffd4j.PagemapScanner;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.internal.WriteProtection;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Snapshots for writers in plain Java: the cooperative, incremental variant. The memory is
 * registered with a userfaultfd of its own in asynchronous write-protect mode (WP_ASYNC): a write
 * never waits for a handler, the kernel only marks the page written, and PAGEMAP_SCAN collects
 * the written pages and protects them again in one call. So plain Java stores are safe here, at
 * full speed between snapshots (after a snapshot, the first write to each page takes one kernel
 * fault).
 *
 * <p>{@link #snapshot} copies in rounds while the writers run: the first snapshot copies every
 * page, each later one only the pages written since the previous snapshot (an increment naming it
 * as its parent). Each round copies what the previous round saw written; when a round finds few
 * pages ({@code pauseAt}) or the round limit is reached, it asks the application for a short
 * pause ({@link Quiesce}), copies the last written pages, and lets the writers go on: the file
 * is the memory exactly as it was during that pause. {@link SnapshotChain} restores a base and its
 * increments and compacts them. Needs Linux 6.7+ (WP_ASYNC, PAGEMAP_SCAN) and WP_UNPOPULATED.
 *
 * <pre>{@code
 * try (TrackedSnapshots t = TrackedSnapshots.of(memory)) {
 *     t.snapshot(Path.of("base.u4s"), writers);  // everything
 *     ...
 *     t.snapshot(Path.of("inc1.u4s"), writers);  // what was written since
 * }
 * }</pre>
 */
public final class TrackedSnapshots implements AutoCloseable {

    /**
     * What one snapshot took: its rounds (pages copied in each, the last one during the pause) and the pause.
     *
     * @param file          the file written
     * @param id            the snapshot's id
     * @param parentId      the id of the snapshot an increment builds on, 0 for a full one
     * @param full          whether it is a full snapshot (else an increment)
     * @param pagesPerRound pages copied in each round, in order; the last during the pause
     * @param pagesStored   pages stored in the file
     * @param pause         how long the writers were held still
     */
    public record Result(Path file, long id, long parentId, boolean full, List<Long> pagesPerRound, long pagesStored,
                         Duration pause) {
    }

    private final MemorySegment memory;
    private final int pageSize;
    private final Userfaultfd uffd;
    private final PagemapScanner pagemap;
    private long lastId;
    private boolean closed;

    private TrackedSnapshots(MemorySegment memory, int pageSize) {
        this.memory = memory;
        this.pageSize = pageSize;
        this.uffd = WriteProtection.register("tracked snapshots", memory, List.of(Feature.WP_ASYNC, Feature.WP_UNPOPULATED));
        PagemapScanner scanner;
        try {
            uffd.writeProtect(memory.address(), memory.byteSize(), true, 0); // every page clean: writes mark them
            scanner = PagemapScanner.open();
        } catch (RuntimeException e) {
            uffd.close();
            throw e;
        }
        this.pagemap = scanner;
    }

    /**
     * Tracks {@code memory} (page-aligned, of this process) in pages of the system's page size.
     *
     * @param memory the memory to track
     * @return the tracker, with every page marked clean; close it when done
     */
    public static TrackedSnapshots of(MemorySegment memory) {
        return of(memory, Memory.pageSize());
    }

    /**
     * Tracks {@code memory} in pages of {@code pageSize} bytes (2 MiB for 2 MiB hugetlb memory).
     *
     * @param memory   the memory to track, aligned to {@code pageSize}
     * @param pageSize the page size of the memory
     * @return the tracker, with every page marked clean; close it when done
     */
    public static TrackedSnapshots of(MemorySegment memory, long pageSize) {
        WriteProtection.checkMemory("tracked snapshots", memory, pageSize);
        return new TrackedSnapshots(memory, (int) pageSize);
    }

    /**
     * {@link #snapshot(Path, Quiesce, int, long) snapshot(file, writers, 5, 256)}.
     *
     * @param file    where the snapshot is written (a file already there is replaced)
     * @param writers holds the application's writers still for the last round
     * @return what the snapshot took
     * @throws IOException if the file cannot be written
     */
    public Result snapshot(Path file, Quiesce writers) throws IOException {
        return snapshot(file, writers, 5, 256);
    }

    /**
     * Writes a snapshot into {@code file}: the first one whole, later ones as increments of the
     * previous. Copies while the writers run for up to {@code maxRounds} rounds, then pauses them
     * (at the latest once a round finds at most {@code pauseAt} pages written) to copy the last
     * pages. Returns when the file is whole. If it fails, the next snapshot is a full one again
     * (the rounds already cleared the write marks of the pages they copied).
     *
     * @param file      where the snapshot is written (a file already there is replaced)
     * @param writers   holds the application's writers still for the last round
     * @param maxRounds rounds of written pages at most while the writers run, before the pause
     * @param pauseAt   pause once a round finds at most this many pages written
     * @return what the snapshot took
     * @throws IllegalStateException    if this is closed
     * @throws IllegalArgumentException if {@code maxRounds} is negative
     * @throws IOException              if the file cannot be written
     */
    public synchronized Result snapshot(Path file, Quiesce writers, int maxRounds, long pauseAt) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(writers, "writers");
        if (closed) {
            throw new IllegalStateException("snapshot: closed");
        }
        if (maxRounds < 0) {
            throw new IllegalArgumentException("maxRounds must not be negative: " + maxRounds);
        }
        Object event = Snapshot.beginEvent();
        boolean full = lastId == 0;
        long previous = lastId;
        lastId = 0; // until this one is whole: a failed snapshot cleared write marks, so the next one must be full
        long pages = memory.byteSize() / pageSize;
        List<Long> rounds = new ArrayList<>();
        Duration pause;
        try (SnapshotWriter w = new SnapshotWriter(file, full ? SnapshotFormat.FULL : SnapshotFormat.INCREMENT, pageSize,
                memory.byteSize(), previous, true)) {
            if (full) {
                collect(); // from here on, writes are marked: the copy below may be fuzzy, the rounds mend it
                copy(w, List.of(new PageRegion(memory.address(), memory.address() + memory.byteSize(), 0)), true);
                rounds.add(pages);
            }
            for (int r = 0; r < maxRounds; r++) {
                List<PageRegion> written = collect();
                long n = count(written);
                copy(w, written, full);
                rounds.add(n);
                if (n <= pauseAt) {
                    break;
                }
            }
            writers.pause();
            long t0 = System.nanoTime();
            try {
                List<PageRegion> written = collect();
                copy(w, written, full);
                rounds.add(count(written));
            } finally {
                pause = Duration.ofNanos(System.nanoTime() - t0);
                writers.resume();
            }
            long parent = previous;
            long id = w.finish();
            lastId = id;
            Result result;
            try (SnapshotFile check = SnapshotFile.openAny(file)) {
                result = new Result(file, id, parent, full, List.copyOf(rounds), check.pagesStored(), pause);
            }
            record(event, result, w.bytesWritten(), null);
            return result;
        } catch (IOException | RuntimeException | Error e) {
            record(event, new Result(file, 0, previous, full, List.copyOf(rounds), 0, Duration.ZERO), 0, e);
            throw e;
        }
    }

    /** The JFR event of one snapshot (tracked snapshots have no copy before write: every page is saved by a round). */
    private void record(Object begun, Result r, long bytes, Throwable failure) {
        if (begun == null) {
            return;
        }
        SnapshotEvent event = (SnapshotEvent) begun;
        event.end();
        if (event.shouldCommit()) {
            event.file = r.file().toString();
            event.kind = r.full() ? "tracked full" : "tracked increment";
            event.memorySize = memory.byteSize();
            event.pagesStored = r.pagesStored();
            event.savedInBackground = r.pagesStored();
            event.bytesWritten = bytes;
            event.rounds = r.pagesPerRound().size();
            event.pauseNanos = r.pause().toNanos();
            event.failure = failure == null ? null : failure.toString();
            event.commit();
        }
    }

    private List<PageRegion> collect() {
        return pagemap.collectWritten(memory);
    }

    private long count(List<PageRegion> regions) {
        long n = 0;
        for (PageRegion r : regions) {
            n += r.length() / pageSize;
        }
        return n;
    }

    /** Copies the pages of {@code regions} into the file, in runs of up to 64 pages; in a full snapshot a page of zeros is left out. */
    private void copy(SnapshotWriter w, List<PageRegion> regions, boolean full) throws IOException {
        long runMax = 64L * pageSize;
        for (PageRegion r : regions) {
            for (long a = r.start(); a < r.end(); a += runMax) {
                long off = a - memory.address();
                MemorySegment run = memory.asSlice(off, Math.min(runMax, r.end() - a));
                if (full) {
                    w.writeLeavingOutZeros(off / pageSize, run);
                } else {
                    w.write(off / pageSize, run);
                }
            }
        }
    }

    /** Stops tracking: the memory is unregistered (no page stays protected) and stays yours. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        pagemap.close();
        try {
            uffd.unregister(memory);
        } catch (RuntimeException ignored) {
            // the memory went away
        }
        uffd.close();
    }
}
