package io.github.uffd4j.snapshot;

import io.github.uffd4j.internal.Codecs;
import io.github.uffd4j.source.Compression;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.zip.CRC32C;

/**
 * Writes one snapshot file ({@link SnapshotFormat}): pages in any order from several threads at
 * once (each gets its own place in the file; one positional write per run of pages), then
 * {@link #finish} writes the index and the header, syncs and renames the temporary file to its
 * final name. {@link #abort} removes the temporary file. A page is written at most once, unless
 * the writer was made {@code rewritable} (by one thread): then a page written again overwrites
 * its slot, and the latest copy is the one indexed. With a compression each page is compressed on
 * its own and appended (format version 2); such a writer is not rewritable.
 */
final class SnapshotWriter implements AutoCloseable {

    private final Path target;
    private final Path tmp;
    private final FileChannel ch;
    private final int kind;
    private final int pageSize;
    private final long memorySize;
    private final long parentId;
    private final AtomicLong nextSlot = new AtomicLong();
    /** Per page: its slot in the file plus one (0: not stored). */
    private final AtomicIntegerArray slotOfPage;
    /** Per page: the CRC32C of its bytes as stored in its slot. */
    private final AtomicIntegerArray crcOfPage;
    private final AtomicLong bytes = new AtomicLong();
    private final boolean rewritable;
    private final MemorySegment zeroPage;
    private final Compression compression;
    /** Compressed: where the next page's bytes go, from the end of the header. */
    private final AtomicLong nextByte = new AtomicLong();
    /** Compressed: per page, its file offset and stored length. */
    private final AtomicLongArray offsetOfPage;
    private final AtomicIntegerArray lengthOfPage;
    private final ThreadLocal<Codecs.Encoder> encoders;
    private final ThreadLocal<MemorySegment> encoded;
    private boolean done;

    SnapshotWriter(Path target, int kind, int pageSize, long memorySize, long parentId) throws IOException {
        this(target, kind, pageSize, memorySize, parentId, false);
    }

    SnapshotWriter(Path target, int kind, int pageSize, long memorySize, long parentId, boolean rewritable) throws IOException {
        this(target, kind, pageSize, memorySize, parentId, rewritable, Compression.NONE);
    }

    SnapshotWriter(Path target, int kind, int pageSize, long memorySize, long parentId, boolean rewritable, Compression compression)
            throws IOException {
        if (rewritable && compression != Compression.NONE) {
            throw new IllegalArgumentException("a rewritable snapshot writer stores pages as they are, not " + compression);
        }
        this.compression = compression;
        this.rewritable = rewritable;
        this.target = target.toAbsolutePath();
        this.tmp = this.target.resolveSibling(this.target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(System.nanoTime()));
        this.kind = kind;
        this.pageSize = pageSize;
        this.memorySize = memorySize;
        this.parentId = parentId;
        long pages = memorySize / pageSize;
        if (pages > Integer.MAX_VALUE - 1) {
            throw new IllegalArgumentException("a snapshot of " + pages + " pages is more than this writer takes");
        }
        this.slotOfPage = new AtomicIntegerArray((int) pages);
        this.crcOfPage = new AtomicIntegerArray((int) pages);
        this.zeroPage = MemorySegment.ofArray(new byte[pageSize]);
        boolean compressed = compression != Compression.NONE;
        this.offsetOfPage = compressed ? new AtomicLongArray((int) pages) : null;
        this.lengthOfPage = compressed ? new AtomicIntegerArray((int) pages) : null;
        // a missing library fails here, before any file exists
        Codecs.Encoder probe = compressed ? Codecs.encoder(compression, SnapshotException::new) : null;
        this.encoders = compressed ? ThreadLocal.withInitial(() -> {
            try {
                return Codecs.encoder(compression, SnapshotException::new);
            } catch (SnapshotException e) {
                throw new IllegalStateException(e);
            }
        }) : null;
        int maxEncoded = probe == null ? 0 : probe.maxEncodedLength(pageSize);
        this.encoded = compressed ? ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(maxEncoded, 8)) : null;
        this.ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
    }

    /** Bytes of pages written so far. */
    long bytesWritten() {
        return bytes.get();
    }

    /**
     * Writes pages {@code [first, first + contents.byteSize() / pageSize)} from {@code contents}:
     * in new slots, or (a rewritable writer) over the slots the pages already have, so the file
     * never grows past the memory's size however often pages are rewritten.
     */
    void write(long first, MemorySegment contents) throws IOException {
        int n = (int) (contents.byteSize() / pageSize);
        if (compression != Compression.NONE) {
            for (int i = 0; i < n; i++) {
                writeCompressed(first + i, contents.asSlice((long) i * pageSize, pageSize));
            }
            bytes.addAndGet(contents.byteSize());
            return;
        }
        for (int i = 0; i < n; ) {
            long slot = slotOfPage.get((int) first + i) - 1;
            int run = 1;
            if (rewritable && slot >= 0) { // pages already stored, their slots one after the other: rewritten in place
                while (i + run < n && slotOfPage.get((int) first + i + run) - 1 == slot + run) {
                    run++;
                }
            } else {
                while (i + run < n && !(rewritable && slotOfPage.get((int) first + i + run) != 0)) {
                    run++;
                }
                slot = nextSlot.getAndAdd(run);
            }
            writeSlots(first + i, slot, contents.asSlice((long) i * pageSize, (long) run * pageSize));
            i += run;
        }
        bytes.addAndGet(contents.byteSize());
    }

    /** Compresses page {@code page} and appends it; records where it went, its length and its checksum. */
    private void writeCompressed(long page, MemorySegment contents) throws IOException {
        MemorySegment out = encoded.get();
        int length = encoders.get().encode(contents, out);
        long at = SnapshotFormat.HEADER + nextByte.getAndAdd(length);
        ByteBuffer b = out.asSlice(0, length).asByteBuffer();
        while (b.hasRemaining()) {
            ch.write(b, at + b.position());
        }
        CRC32C crc = new CRC32C();
        crc.update(contents.asByteBuffer());
        crcOfPage.set((int) page, (int) crc.getValue());
        offsetOfPage.set((int) page, at);
        lengthOfPage.set((int) page, length);
        if (!slotOfPage.compareAndSet((int) page, 0, 1)) {
            throw new IllegalStateException("page " + page + " written twice");
        }
    }

    /** Writes {@code contents} into the slots from {@code slot} and records them as pages from {@code first}. */
    private void writeSlots(long first, long slot, MemorySegment contents) throws IOException {
        long at = SnapshotFormat.HEADER + slot * pageSize;
        ByteBuffer b = contents.asByteBuffer();
        while (b.hasRemaining()) {
            ch.write(b, at + b.position());
        }
        CRC32C crc = new CRC32C();
        int n = (int) (contents.byteSize() / pageSize);
        for (int i = 0; i < n; i++) {
            crc.reset();
            crc.update(contents.asSlice((long) i * pageSize, pageSize).asByteBuffer());
            crcOfPage.set((int) first + i, (int) crc.getValue());
            if (rewritable) {
                slotOfPage.set((int) first + i, (int) slot + i + 1);
            } else if (!slotOfPage.compareAndSet((int) first + i, 0, (int) slot + i + 1)) {
                throw new IllegalStateException("page " + (first + i) + " written twice");
            }
        }
    }

    /**
     * Writes the pages of {@code contents} from page {@code first} as {@link #write} does, leaving
     * out the pages of zeros (a full snapshot reads an absent page as zeros; an older copy of such
     * a page leaves the index). Returns how many were left out.
     */
    long writeLeavingOutZeros(long first, MemorySegment contents) throws IOException {
        long pages = contents.byteSize() / pageSize;
        long from = 0; // the first page of the run of non-zero pages not written yet
        long zeros = 0;
        for (long p = 0; p <= pages; p++) {
            boolean zero = p < pages && contents.asSlice(p * pageSize, pageSize).mismatch(zeroPage) == -1;
            if (p == pages || zero) {
                if (p > from) {
                    write(first + from, contents.asSlice(from * pageSize, (p - from) * pageSize));
                }
                if (zero) {
                    slotOfPage.set((int) (first + p), 0);
                    zeros++;
                }
                from = p + 1;
            }
        }
        return zeros;
    }

    /** Writes the index and header, syncs, renames to the final name; returns the snapshot's id. */
    long finish() throws IOException {
        long slots = nextSlot.get();
        long stored = 0;
        for (int p = 0; p < slotOfPage.length(); p++) {
            stored += slotOfPage.get(p) != 0 ? 1 : 0;
        }
        boolean compressed = compression != Compression.NONE;
        long indexOffset = SnapshotFormat.HEADER + (compressed ? nextByte.get() : slots * pageSize);
        ByteBuffer index = ByteBuffer.allocate((int) (stored * SnapshotFormat.ENTRY)).order(ByteOrder.LITTLE_ENDIAN);
        for (int p = 0; p < slotOfPage.length(); p++) {
            int slot = slotOfPage.get(p) - 1;
            if (slot >= 0) {
                if (compressed) {
                    index.putLong(p).putLong(offsetOfPage.get(p)).putInt(crcOfPage.get(p)).putInt(lengthOfPage.get(p));
                } else {
                    index.putLong(p).putLong(SnapshotFormat.HEADER + (long) slot * pageSize).putInt(crcOfPage.get(p)).putInt(0);
                }
            }
        }
        if (index.hasRemaining()) {
            throw new IllegalStateException("the index has " + index.position() / SnapshotFormat.ENTRY + " entries for " + stored
                    + " stored pages");
        }
        index.flip();
        int indexCrc = SnapshotFormat.crc(index.array(), 0, index.capacity());
        while (index.hasRemaining()) {
            ch.write(index, indexOffset + index.position());
        }
        long id;
        do {
            id = java.util.concurrent.ThreadLocalRandom.current().nextLong();
        } while (id == 0);
        ByteBuffer header = new SnapshotFormat.Header(kind, compression, pageSize, memorySize, stored, indexOffset, id, parentId,
                indexCrc).encode();
        while (header.hasRemaining()) {
            ch.write(header, header.position());
        }
        ch.force(true);
        ch.close();
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
            dir.force(true); // the rename itself survives a crash
        } catch (IOException ignored) {
            // some file systems cannot sync a directory; the file itself is synced
        }
        done = true;
        return id;
    }

    /** Gives up: the temporary file is removed, nothing appears under the final name. */
    void abort() {
        try {
            ch.close();
        } catch (IOException ignored) {
            // removing it is what matters
        }
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
            // a leftover temporary file never looks like a snapshot: its name is not the final one
        }
        done = true;
    }

    @Override
    public void close() {
        if (!done) {
            abort();
        }
    }
}
