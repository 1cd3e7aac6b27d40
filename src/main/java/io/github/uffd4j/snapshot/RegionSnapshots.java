package io.github.uffd4j.snapshot;

import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.handler.Region;
import io.github.uffd4j.handler.WriteFaultHook;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Objects;

/**
 * Point-in-time snapshots of a region that a {@link io.github.uffd4j.handler.FaultService}
 * serves, taken on the service's side: the copy before a write runs in the region's
 * {@link WriteFaultHook}, on the service's handler threads. This is how a pager snapshots the memory
 * of the app it serves ({@link io.github.uffd4j.pager.PagedMemory.Region#snapshot}): the writers
 * live in the other process and may be plain Java code, because the thread that saves a page before
 * a write is not one of theirs.
 *
 * <p>The region is registered with this object as its hook, then {@link #snapshot} is called while
 * the writers are held still. A page present at that instant holds data of its own: it is
 * write-protected and saved before its first write (or by the background thread, whichever comes
 * first). A page not present then would come from the region's source, and is saved from the
 * source: the region's own memory is not touched for it, so loading it later, and writing it after
 * that, change nothing in the snapshot. The source must therefore give the same bytes every time
 * (files, chunked files, snapshots and the pager's built-in sources do).
 *
 * <pre>{@code
 * RegionSnapshots snaps = new RegionSnapshots(source, (offset, dst) -> app.readMemory(base + offset, dst));
 * Region r = service.region(memory).source(source).writeProtect(snaps).register();
 * ...                                          // writers held still by their owner:
 * Snapshot s = snaps.snapshot(r, Path.of("state.u4s"));
 * ...                                          // writers go on
 * s.await(Duration.ofMinutes(1));
 * }</pre>
 *
 * <p>A page discarded while the snapshot runs (madvise(MADV_DONTNEED), a hole punch, a
 * {@link Region#reset}) loses what it held at the instant: the snapshot then fails with a
 * {@link SnapshotException} saying so (it never holds other bytes), which is why every copy of
 * present pages runs under {@link Region#unzappedSince}.
 *
 * <p>In a service of this process's own userfaultfd the same rule as {@link LiveSnapshots} holds:
 * writers must not be plain Java code of this JVM. One snapshot at a time. Thread safe.
 */
public final class RegionSnapshots implements WriteFaultHook, AutoCloseable {

    /** How the region's present pages are read: the memory itself, a shared mapping of it, or another process's memory. */
    @FunctionalInterface
    public interface Reader {
        /**
         * Copies the region's bytes at {@code [offset, offset + dst.byteSize())} (whole pages, all
         * present) into {@code dst}.
         *
         * @param offset the region offset of the first byte, page aligned
         * @param dst where the bytes go
         * @throws Exception when they cannot be read: the snapshot fails
         */
        void read(long offset, MemorySegment dst) throws Exception;
    }

    private final PageSource source;
    private final Reader reader;
    private volatile Taken current;
    private volatile boolean closed;

    /** A snapshot under way: which region, which pages held data of their own at its instant. */
    private record Taken(Region region, Snapshot snapshot, BitSet presentAtInstant) {
    }

    /**
     * Snapshots of one region.
     *
     * @param source the region's page source: what a page not present holds
     * @param reader how the region's present pages are read
     */
    public RegionSnapshots(PageSource source, Reader reader) {
        this.source = Objects.requireNonNull(source, "source");
        this.reader = Objects.requireNonNull(reader, "reader");
    }

    /**
     * Takes a snapshot of {@code region} into {@code file}: notes which pages are present,
     * write-protects them and returns; the pages are written in the background
     * ({@link Snapshot#await}). Call it while the region's writers are held still: the instant of
     * the snapshot is this call. The file appears under its name only once it is whole.
     *
     * @param region the region, registered with this object as its {@link WriteFaultHook}
     * @param file   where the snapshot is written (a file already there is replaced once it is whole)
     * @return the snapshot, being written in the background
     * @throws IllegalStateException if a snapshot is still being written, or this is closed
     * @throws IOException           if the file cannot be created
     */
    public synchronized Snapshot snapshot(Region region, Path file) throws IOException {
        Objects.requireNonNull(region, "region");
        Objects.requireNonNull(file, "file");
        if (closed) {
            throw new IllegalStateException("snapshot: closed");
        }
        Taken t = current;
        if (t != null && !t.snapshot().isDone()) {
            throw new IllegalStateException("snapshot: " + t.snapshot().file() + " is still being written; one at a time");
        }
        int pageSize = (int) region.pageSize();
        long pages = region.pageCount();
        long t0 = System.nanoTime();
        SnapshotWriter w = new SnapshotWriter(file, SnapshotFormat.FULL, pageSize, region.byteSize(), 0);
        long epoch = region.zapEpoch(); // a page zapped after this loses what it held at the instant
        BitSet present = region.presentPageSet();
        // a pool of its own: a hook of a failed snapshot may still be copying into the last one's buffers
        Snapshot s = new Snapshot(new Target(region, present, epoch), file, w, pageSize, pages, Snapshot.newCopyPool(pageSize));
        current = new Taken(region, s, present); // before the protection: a fault right after it finds the snapshot
        try {
            region.writeProtect(0, region.byteSize());
        } catch (RuntimeException e) {
            s.fail(e);
            throw e;
        }
        s.pausedFor(System.nanoTime() - t0);
        Thread.ofPlatform().daemon().name("uffd4j-snapshot-writer").start(s::saveAll);
        return s;
    }

    /**
     * The snapshot under way or the last one taken, or null before the first.
     *
     * @return the latest snapshot, or null
     */
    public Snapshot latest() {
        Taken t = current;
        return t == null ? null : t.snapshot();
    }

    /** The hook: a write to a page that held data of its own at the instant and is not saved yet saves it first. */
    @Override
    public void beforeWrite(Region region, long offset, MemorySegment page) {
        Taken t = current;
        if (t == null || t.region() != region) {
            return;
        }
        long p = offset / region.pageSize();
        if (t.presentAtInstant().get((int) p)) {
            t.snapshot().saveBeforeWrite(p);
        }
        // else: the snapshot takes that page from the source, whatever is written to it now
    }

    /** Abandons a snapshot still being written (its temporary file removed, nothing under its name). Idempotent. */
    @Override
    public void close() {
        closed = true;
        Taken t = current;
        if (t != null && !t.snapshot().isDone()) {
            t.snapshot().fail(new SnapshotException("snapshot " + t.snapshot().file() + " abandoned: its region is no longer served"));
        }
    }

    /** The pages of one snapshot: present ones read through the reader, the others from the source. */
    private final class Target implements Snapshot.Target {
        private final Region region;
        private final BitSet present;
        private final long epoch;
        private final int pageShift;

        Target(Region region, BitSet present, long epoch) {
            this.region = region;
            this.present = present;
            this.epoch = epoch;
            this.pageShift = Long.numberOfTrailingZeros(region.pageSize());
        }

        @Override
        public void read(long offset, MemorySegment dst) throws Exception {
            int first = (int) (offset >>> pageShift);
            int end = first + (int) (dst.byteSize() >>> pageShift);
            for (int p = first; p < end; ) {
                boolean held = present.get(p);
                int q = held ? present.nextClearBit(p) : present.nextSetBit(p);
                q = q < 0 || q > end ? end : q;
                MemorySegment part = dst.asSlice((long) (p - first) << pageShift, (long) (q - p) << pageShift);
                if (held) {
                    long at = (long) p << pageShift;
                    if (!region.unzappedSince(epoch, () -> reader.read(at, part))) {
                        throw new SnapshotException("pages of " + region + " were discarded (madvise, a hole punch) while the"
                                + " snapshot was being taken: what they held at the instant is gone; take it again, and"
                                + " discard nothing while a snapshot runs");
                    }
                } else {
                    if (!source.writesEveryByte()) {
                        part.fill((byte) 0);
                    }
                    source.fill((long) p << pageShift, part);
                }
                p = q;
            }
        }

        @Override
        public void unprotect(long offset, long length) {
            region.writeUnprotect(offset, length);
        }
    }

    @Override
    public String toString() {
        Taken t = current;
        return "RegionSnapshots[" + (t == null ? "none taken" : t.snapshot().file() + (t.snapshot().isDone() ? ", done" : ", running"))
                + "]";
    }
}
