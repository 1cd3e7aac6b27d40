package io.github.uffd4j.snapshot;

import java.io.IOException;
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
import java.util.zip.CRC32C;

/**
 * Writes one snapshot file ({@link SnapshotFormat}): pages in any order from several threads at
 * once (each gets its own place in the file; one positional write per run of pages), then
 * {@link #finish} writes the index and the header, syncs and renames the temporary file to its
 * final name. {@link #abort} removes the temporary file. A page is written at most once.
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
    /** Per slot: the CRC32C of its bytes. */
    private final AtomicIntegerArray crcOfSlot;
    private final AtomicLong bytes = new AtomicLong();
    private boolean done;

    SnapshotWriter(Path target, int kind, int pageSize, long memorySize, long parentId) throws IOException {
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
        this.crcOfSlot = new AtomicIntegerArray((int) pages);
        this.ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
    }

    /** Bytes of pages written so far. */
    long bytesWritten() {
        return bytes.get();
    }

    /** Writes pages {@code [first, first + contents.byteSize() / pageSize)} from {@code contents}. */
    void write(long first, MemorySegment contents) throws IOException {
        int n = (int) (contents.byteSize() / pageSize);
        long slot = nextSlot.getAndAdd(n);
        long at = SnapshotFormat.HEADER + slot * pageSize;
        ByteBuffer b = contents.asByteBuffer();
        while (b.hasRemaining()) {
            ch.write(b, at + b.position());
        }
        CRC32C crc = new CRC32C();
        for (int i = 0; i < n; i++) {
            crc.reset();
            crc.update(contents.asSlice((long) i * pageSize, pageSize).asByteBuffer());
            crcOfSlot.set((int) slot + i, (int) crc.getValue());
            if (!slotOfPage.compareAndSet((int) first + i, 0, (int) slot + i + 1)) {
                throw new IllegalStateException("page " + (first + i) + " written twice");
            }
        }
        bytes.addAndGet(contents.byteSize());
    }

    /** Writes the index and header, syncs, renames to the final name; returns the snapshot's id. */
    long finish() throws IOException {
        long stored = nextSlot.get();
        long indexOffset = SnapshotFormat.HEADER + stored * pageSize;
        ByteBuffer index = ByteBuffer.allocate((int) (stored * SnapshotFormat.ENTRY)).order(ByteOrder.LITTLE_ENDIAN);
        for (int p = 0; p < slotOfPage.length(); p++) {
            int slot = slotOfPage.get(p) - 1;
            if (slot >= 0) {
                index.putLong(p).putLong(SnapshotFormat.HEADER + (long) slot * pageSize).putInt(crcOfSlot.get(slot)).putInt(0);
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
        ByteBuffer header = new SnapshotFormat.Header(kind, pageSize, memorySize, stored, indexOffset, id, parentId, indexCrc).encode();
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
