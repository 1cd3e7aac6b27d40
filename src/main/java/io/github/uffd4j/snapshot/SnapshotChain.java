package io.github.uffd4j.snapshot;

import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.source.Compression;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A full snapshot and increments of it ({@link TrackedSnapshots}), oldest first: the memory as it
 * was at the last one. Each link is checked at open: every increment must name the one before it
 * as its parent, and have its geometry; a missing or foreign link is a {@link SnapshotException}
 * naming it. A page comes from the newest file that stores it. A {@link PageSource}, so it
 * restores lazily as well as {@linkplain #restore eagerly}; {@link #compact} writes it as one full
 * snapshot. Thread safe.
 */
public final class SnapshotChain implements PageSource, AutoCloseable {

    private final List<SnapshotFile> links; // oldest first

    private SnapshotChain(List<SnapshotFile> links) {
        this.links = links;
    }

    /**
     * Opens {@code files}: a full snapshot, then its increments in the order they were taken.
     *
     * @param files the full snapshot first, then its increments, oldest first
     * @return the chain, open; close it when done
     * @throws SnapshotException if a file is not a valid snapshot, or a link is missing, out of
     *                           order or of another geometry
     * @throws IOException       if a file cannot be read
     * @throws IllegalArgumentException if {@code files} is empty
     */
    public static SnapshotChain open(List<Path> files) throws IOException {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("a chain needs at least its full snapshot");
        }
        List<SnapshotFile> links = new ArrayList<>();
        try {
            for (Path f : files) {
                SnapshotFile s = SnapshotFile.openAny(f);
                links.add(s);
                if (links.size() == 1) {
                    if (s.isIncrement()) {
                        throw new SnapshotException(f + ": an increment, not a full snapshot: a chain starts with its base");
                    }
                    continue;
                }
                SnapshotFile prev = links.get(links.size() - 2);
                if (!s.isIncrement()) {
                    throw new SnapshotException(f + ": a full snapshot in the middle of a chain");
                }
                if (s.parentId() != prev.id()) {
                    throw new SnapshotException(f + ": an increment of snapshot " + Long.toHexString(s.parentId()) + ", not of "
                            + prev.path() + " (" + Long.toHexString(prev.id()) + "): a link of the chain is missing or out of order");
                }
                if (s.memorySize() != prev.memorySize() || s.pageSize() != prev.pageSize()) {
                    throw new SnapshotException(f + ": another memory size or page size than " + prev.path());
                }
            }
        } catch (IOException | RuntimeException e) {
            for (SnapshotFile s : links) {
                s.close();
            }
            throw e;
        }
        return new SnapshotChain(links);
    }

    /**
     * The size of the memory snapshotted.
     *
     * @return the memory size in bytes, the same for every link
     */
    public long memorySize() {
        return links.get(0).memorySize();
    }

    /**
     * The page size the snapshots were taken with.
     *
     * @return the page size in bytes, the same for every link
     */
    public int pageSize() {
        return links.get(0).pageSize();
    }

    /** Every byte: each page from the newest link storing it, zeros where none does. */
    @Override
    public boolean writesEveryByte() {
        return true;
    }

    @Override
    public void fill(long offset, MemorySegment destination) throws IOException {
        int ps = pageSize();
        for (long o = 0; o < destination.byteSize(); o += ps) {
            long page = (offset + o) / ps;
            MemorySegment dst = destination.asSlice(o, ps);
            SnapshotFile from = null;
            for (int i = links.size() - 1; i >= 0 && from == null; i--) {
                if (links.get(i).stores(page)) {
                    from = links.get(i);
                }
            }
            if (from == null) {
                dst.fill((byte) 0);
            } else {
                from.fill(offset + o, dst);
            }
        }
    }

    /**
     * Reads every stored page of every link and checks it: a damaged page is a {@link SnapshotException} naming it.
     *
     * @throws SnapshotException if a page is damaged or a file truncated
     * @throws IOException       if a file cannot be read
     */
    public void verify() throws IOException {
        for (SnapshotFile s : links) {
            s.verify();
        }
    }

    /**
     * Writes the memory at the last link into {@code destination}, checking every page read.
     *
     * @param destination at least {@link #memorySize()} bytes
     * @throws SnapshotException if a page is damaged or a file truncated
     * @throws IOException       if a file cannot be read
     * @throws IllegalArgumentException if {@code destination} is smaller than the memory
     */
    public void restore(MemorySegment destination) throws IOException {
        if (destination.byteSize() < memorySize()) {
            throw new IllegalArgumentException("destination has " + destination.byteSize() + " bytes, the chain " + memorySize());
        }
        fill(0, destination.asSlice(0, memorySize()));
    }

    /**
     * Writes the chain as one full snapshot into {@code file} (written under a temporary name, synced, renamed).
     *
     * @param file where the full snapshot is written
     * @throws SnapshotException if a page read from the chain is damaged or a file truncated
     * @throws IOException       if a link cannot be read, or {@code file} cannot be written
     */
    public void compact(Path file) throws IOException {
        compact(file, Compression.NONE);
    }

    /**
     * Writes the chain as one full snapshot into {@code file}, each page compressed on its own
     * (format version 2, read by {@link SnapshotFile} like any other; a lazy restore still reads
     * just the page a fault asks for). ZSTD and LZ4 need the optional dependency
     * {@code io.github.airlift:aircompressor-v3}.
     *
     * @param file where the full snapshot is written
     * @param compression how each page is compressed ({@link Compression#NONE}: as {@link #compact(Path)})
     * @throws SnapshotException if a page read from the chain is damaged or a file truncated, or the
     *                           compression library is missing (nothing is written then)
     * @throws IOException       if a link cannot be read, or {@code file} cannot be written
     */
    public void compact(Path file, Compression compression) throws IOException {
        java.util.Objects.requireNonNull(compression, "compression");
        int ps = pageSize();
        long pages = memorySize() / ps;
        MemorySegment buf = java.lang.foreign.Arena.ofAuto().allocate(ps, 4096);
        MemorySegment zero = MemorySegment.ofArray(new byte[ps]);
        try (SnapshotWriter w = new SnapshotWriter(file, SnapshotFormat.FULL, ps, memorySize(), 0, false, compression)) {
            for (long p = 0; p < pages; p++) {
                fill(p * ps, buf);
                if (buf.mismatch(zero) != -1) {
                    w.write(p, buf);
                }
            }
            w.finish();
        }
    }

    @Override
    public void close() throws IOException {
        for (SnapshotFile s : links) {
            s.close();
        }
    }
}
