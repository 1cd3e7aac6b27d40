package io.github.uffd4j.snapshot;

import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.internal.Codecs;
import io.github.uffd4j.source.Compression;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * A snapshot file, opened and checked: its header and index are verified at open (a
 * {@link SnapshotException} saying what is wrong: not a snapshot, another version, truncated,
 * damaged), every page against its checksum when it is read. Restore it eagerly with
 * {@link #restore}, or lazily: it is a {@link PageSource}, so a {@code LazySegment} over it is
 * usable at once and pages come in on first touch. A full snapshot's pages that were all zeros
 * are not stored: they read as zeros. Thread safe.
 *
 * <pre>{@code
 * try (SnapshotFile snap = SnapshotFile.open(Path.of("state.u4s"));
 *      LazySegment state = LazySegment.open(snap.memorySize(), snap)) {
 *     long v = state.getLong(4096);   // that page read, checked and mapped on first touch
 * }
 * }</pre>
 */
public final class SnapshotFile implements PageSource, AutoCloseable {

    private final Path path;
    private final FileChannel ch;
    private final SnapshotFormat.Header header;
    private final SnapshotFormat.Index index;
    private final ThreadLocal<MemorySegment> scratch;
    /** Compressed files: a page's stored bytes, read before they are decoded. */
    private final ThreadLocal<MemorySegment> storedBytes;

    private SnapshotFile(Path path) throws IOException {
        this.path = path;
        this.ch = FileChannel.open(path, StandardOpenOption.READ);
        try {
            SnapshotFormat.Layout layout = SnapshotFormat.read(ch, path.toString());
            this.header = layout.header();
            this.index = layout.index();
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        int page = header.pageSize();
        this.scratch = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(page, 4096));
        this.storedBytes = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(2L * page, 8));
        if (header.compression() != Compression.NONE) {
            try {
                Codecs.decoder(header.compression(), SnapshotException::new); // a missing library fails at open
            } catch (SnapshotException e) {
                ch.close();
                throw new SnapshotException(path + ": " + e.getMessage(), e.getCause());
            }
        }
    }

    /**
     * Opens and checks {@code path} (header and index; pages as they are read).
     *
     * @param path a full snapshot file
     * @return the snapshot, open; close it when done
     * @throws SnapshotException if the file is not a valid snapshot, or is an increment
     * @throws IOException       if the file cannot be read
     */
    public static SnapshotFile open(Path path) throws IOException {
        SnapshotFile f = new SnapshotFile(path);
        if (f.header.kind() != SnapshotFormat.FULL) {
            f.close();
            throw new SnapshotException(path + ": an increment (parent " + Long.toHexString(f.header.parentId())
                    + "): open the chain it belongs to");
        }
        return f;
    }

    /**
     * What a snapshot file's header and index say, checked as {@link #open} checks them; an
     * increment is described too (it is opened only as part of a {@link SnapshotChain}).
     *
     * @param path        the file
     * @param increment   whether absent pages are the parent's (else zeros)
     * @param id          the snapshot's id (random; an increment names its parent by it)
     * @param parentId    the id of the snapshot an increment builds on, 0 for a full one
     * @param memorySize  the size of the memory snapshotted, in bytes
     * @param pageSize    the page size it was taken with
     * @param pagesStored pages stored in the file
     * @param fileSize    the file's size in bytes
     * @param compression how each stored page is compressed ({@link Compression#NONE}: stored as it is)
     */
    public record Info(Path path, boolean increment, long id, long parentId, long memorySize, int pageSize, long pagesStored,
                       long fileSize, Compression compression) {
    }

    /**
     * Reads and checks the header and index of {@code path} (not the pages: {@link #verify} reads those).
     *
     * @param path a snapshot file, full or an increment
     * @return what its header and index say
     * @throws SnapshotException if the file is not a valid snapshot
     * @throws IOException       if the file cannot be read
     */
    public static Info describe(Path path) throws IOException {
        try (SnapshotFile f = new SnapshotFile(path)) {
            return f.info();
        }
    }

    Info info() throws IOException {
        return new Info(path, isIncrement(), header.id(), header.parentId(), header.memorySize(), header.pageSize(),
                header.pagesStored(), ch.size(), header.compression());
    }

    /** Opens a full snapshot or an increment (for a chain), checked the same way. */
    static SnapshotFile openAny(Path path) throws IOException {
        return new SnapshotFile(path);
    }

    boolean isIncrement() {
        return header.kind() == SnapshotFormat.INCREMENT;
    }

    long parentId() {
        return header.parentId();
    }

    Path path() {
        return path;
    }

    /** Whether page {@code page} is stored here. */
    boolean stores(long page) {
        return index.find(page) >= 0;
    }

    /**
     * The size of the memory snapshotted.
     *
     * @return the memory size in bytes
     */
    public long memorySize() {
        return header.memorySize();
    }

    /**
     * The page size it was taken with.
     *
     * @return the page size in bytes
     */
    public int pageSize() {
        return header.pageSize();
    }

    /**
     * Pages stored (a full snapshot leaves out pages of zeros).
     *
     * @return the number of pages stored in the file
     */
    public long pagesStored() {
        return header.pagesStored();
    }

    /**
     * This snapshot's id (random; an increment names its parent by it).
     *
     * @return the id
     */
    public long id() {
        return header.id();
    }

    /**
     * Reads every stored page and checks it: a damaged page is a {@link SnapshotException} naming it.
     *
     * @throws SnapshotException if a page is damaged or the file truncated
     * @throws IOException       if the file cannot be read
     */
    public void verify() throws IOException {
        for (int i = 0; i < index.pages().length; i++) {
            readStored(i, 1, scratch.get());
        }
    }

    /**
     * Writes the snapshot into {@code destination} (at least {@link #memorySize()} bytes), checking every page.
     *
     * @param destination at least {@link #memorySize()} bytes
     * @throws SnapshotException if a page is damaged or the file truncated
     * @throws IOException       if the file cannot be read
     * @throws IllegalArgumentException if {@code destination} is smaller than the memory
     */
    public void restore(MemorySegment destination) throws IOException {
        if (destination.byteSize() < header.memorySize()) {
            throw new IllegalArgumentException("destination has " + destination.byteSize() + " bytes, the snapshot "
                    + header.memorySize());
        }
        fill(0, destination.asSlice(0, header.memorySize()));
    }

    /** Every byte: stored pages, zeros for the rest and past the memory's end. */
    @Override
    public boolean writesEveryByte() {
        return true;
    }

    @Override
    public void fill(long offset, MemorySegment destination) throws IOException {
        int ps = header.pageSize();
        if (offset % ps != 0 || destination.byteSize() % ps != 0) {
            throw new IllegalArgumentException("snapshot " + path + " has pages of " + ps + " bytes: offset " + offset + " and length "
                    + destination.byteSize() + " must be multiples");
        }
        long pages = destination.byteSize() / ps;
        long first = offset / ps;
        for (long i = 0; i < pages; ) {
            int at = first + i < header.pageCount() ? index.find(first + i) : -1;
            if (at < 0) {
                destination.asSlice(i * ps, ps).fill((byte) 0);
                i++;
                continue;
            }
            int run = 1; // stored pages next to each other in the memory and in the file: one read (uncompressed)
            while (header.compression() == Compression.NONE && i + run < pages && at + run < index.pages().length
                    && index.pages()[at + run] == first + i + run
                    && index.offsets()[at + run] == index.offsets()[at] + (long) run * ps) {
                run++;
            }
            readStored(at, run, destination.asSlice(i * ps, (long) run * ps));
            i += run;
        }
    }

    /** Reads {@code run} stored pages from index entry {@code at} (contiguous in the file) into {@code pages} and checks each. */
    private void readStored(int at, int run, MemorySegment pages) throws IOException {
        if (header.compression() != Compression.NONE) {
            for (int k = 0; k < run; k++) {
                readCompressed(at + k, pages.asSlice((long) k * header.pageSize(), header.pageSize()));
            }
            return;
        }
        var b = pages.asByteBuffer();
        long where = index.offsets()[at];
        while (b.hasRemaining()) {
            int n = ch.read(b, where + b.position());
            if (n < 0) {
                throw new SnapshotException(path + ": page " + index.pages()[at + b.position() / header.pageSize()] + " (stored at "
                        + (where + b.position()) + ") runs past the end: truncated");
            }
        }
        CRC32C crc = new CRC32C();
        int ps = header.pageSize();
        for (int k = 0; k < run; k++) {
            crc.reset();
            crc.update(pages.asSlice((long) k * ps, ps).asByteBuffer());
            if ((int) crc.getValue() != index.crcs()[at + k]) {
                long pageNo = index.pages()[at + k];
                throw new SnapshotException(path + ": page " + pageNo + " (memory offset " + pageNo * ps + ", stored at "
                        + index.offsets()[at + k] + "): checksum mismatch: damaged");
            }
        }
    }

    /** Reads index entry {@code at}'s compressed bytes, decodes them into {@code page} and checks it. */
    private void readCompressed(int at, MemorySegment page) throws IOException {
        int ps = header.pageSize();
        long pageNo = index.pages()[at];
        long where = index.offsets()[at];
        String which = path + ": page " + pageNo + " (memory offset " + pageNo * ps + ", " + index.lengths()[at] + " "
                + header.compression() + " bytes stored at " + where + ")";
        MemorySegment in = storedBytes.get().asSlice(0, index.lengths()[at]);
        var b = in.asByteBuffer();
        while (b.hasRemaining()) {
            if (ch.read(b, where + b.position()) < 0) {
                throw new SnapshotException(which + " runs past the end: truncated");
            }
        }
        int n;
        try {
            n = Codecs.decoder(header.compression(), SnapshotException::new).decode(in, page);
        } catch (SnapshotException e) {
            throw e;
        } catch (Exception e) {
            throw new SnapshotException(which + ": cannot be decompressed (" + e.getMessage() + "): damaged", e);
        }
        CRC32C crc = new CRC32C();
        crc.update(page.asByteBuffer());
        if (n != ps || (int) crc.getValue() != index.crcs()[at]) {
            throw new SnapshotException(which + ": " + (n != ps ? "decompressed to " + n + " bytes" : "checksum mismatch") + ": damaged");
        }
    }

    @Override
    public void close() throws IOException {
        ch.close();
    }

    @Override
    public String toString() {
        return "SnapshotFile[" + path + ", " + header.memorySize() + " bytes, " + header.pagesStored() + " pages stored]";
    }
}
