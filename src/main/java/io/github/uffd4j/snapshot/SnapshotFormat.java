package io.github.uffd4j.snapshot;

import io.github.uffd4j.source.Compression;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The snapshot file, version 1 (pages stored as they are) or 2 (pages compressed one by one),
 * little-endian:
 * <pre>
 *    0  magic        8 bytes "UFD4JSNP"
 *    8  version      u16 (1, or 2 when compressed)
 *   10  kind         u8  (0 full: absent pages are zeros; 1 increment: absent pages are the parent's)
 *   11  compression  u8  (0 none: version 1; 1 zstd, 2 lz4: version 2)
 *   12  page size    u32
 *   16  memory size  u64 (bytes of the memory snapshotted)
 *   24  pages stored u64 (entries of the index)
 *   32  index offset u64 (after the page slots; a slot no entry names is an older copy, unused)
 *   40  id           u64 (random, not 0)
 *   48  parent id    u64 (0 for a full snapshot)
 *   56  index CRC32C u32 (of the index's bytes)
 *   60  header CRC32C u32 (of bytes 0..60)
 *   64  pages        page-size bytes each, in the order they were saved (version 1), or each
 *                    page's compressed bytes one after the other (version 2)
 *   ..  index        per stored page, by page number: page u64, file offset u64, CRC32C u32 of
 *                    its bytes (uncompressed), stored length u32 (0 in version 1: a whole page): 24 bytes
 * </pre>
 * A writer fills a temporary file, writes the index, then the header, syncs and renames: a file
 * under its final name is whole, and a torn one has no valid header.
 */
final class SnapshotFormat {

    static final byte[] MAGIC = "UFD4JSNP".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    static final int VERSION_COMPRESSED = 2;
    static final int HEADER = 64;
    static final int ENTRY = 24;
    static final int FULL = 0;
    static final int INCREMENT = 1;

    private SnapshotFormat() {
    }

    record Header(int kind, Compression compression, int pageSize, long memorySize, long pagesStored, long indexOffset, long id,
                  long parentId, int indexCrc) {

        long pageCount() {
            return memorySize / pageSize;
        }

        ByteBuffer encode() {
            ByteBuffer b = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            b.put(MAGIC).putShort((short) (compression == Compression.NONE ? VERSION : VERSION_COMPRESSED)).put((byte) kind)
                    .put((byte) compression.id()).putInt(pageSize).putLong(memorySize)
                    .putLong(pagesStored).putLong(indexOffset).putLong(id).putLong(parentId).putInt(indexCrc);
            b.putInt(crc(b.array(), 0, 60));
            return b.flip();
        }
    }

    /** The stored pages, sorted by page number: page numbers, file offsets, checksums, stored lengths. */
    record Index(long[] pages, long[] offsets, int[] crcs, int[] lengths) {

        /** Where page {@code page} is in {@link #pages}, or a negative number when it is not stored. */
        int find(long page) {
            return java.util.Arrays.binarySearch(pages, page);
        }
    }

    static int crc(byte[] b, int from, int length) {
        CRC32C c = new CRC32C();
        c.update(b, from, length);
        return (int) c.getValue();
    }

    /** A file's header and index, checked. */
    record Layout(Header header, Index index) {
    }

    /** Reads and checks the header and the index of {@code name}; anything wrong is a {@link SnapshotException} saying what. */
    static Layout read(FileChannel ch, String name) throws IOException {
        long size = ch.size();
        if (size < HEADER) {
            throw new SnapshotException(name + ": " + size + " bytes, too short for a snapshot (truncated, or not one)");
        }
        ByteBuffer hb = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, hb, 0, name);
        byte[] raw = hb.array();
        for (int i = 0; i < MAGIC.length; i++) {
            if (raw[i] != MAGIC[i]) {
                throw new SnapshotException(name + ": not a uffd4j snapshot (no UFD4JSNP magic)");
            }
        }
        hb.position(8);
        int version = Short.toUnsignedInt(hb.getShort());
        if (version != VERSION && version != VERSION_COMPRESSED) {
            throw new SnapshotException(name + ": snapshot format version " + version + "; this uffd4j reads versions " + VERSION
                    + " and " + VERSION_COMPRESSED);
        }
        int kind = Byte.toUnsignedInt(hb.get());
        int compressionId = Byte.toUnsignedInt(hb.get());
        int pageSize = hb.getInt();
        long memorySize = hb.getLong();
        long stored = hb.getLong();
        long indexOffset = hb.getLong();
        long id = hb.getLong();
        long parent = hb.getLong();
        int indexCrc = hb.getInt();
        int headerCrc = hb.getInt();
        if (headerCrc != crc(raw, 0, 60)) {
            throw new SnapshotException(name + ": header checksum mismatch: damaged");
        }
        if (kind != FULL && kind != INCREMENT) {
            throw new SnapshotException(name + ": unknown snapshot kind " + kind);
        }
        Compression compression = Compression.ofId(compressionId);
        if (compression == null || (compression == Compression.NONE) != (version == VERSION)) {
            throw new SnapshotException(name + ": compression " + compressionId + " in a version " + version + " file: damaged");
        }
        boolean compressed = compression != Compression.NONE;
        if (pageSize < 4096 || Integer.bitCount(pageSize) != 1 || memorySize <= 0 || memorySize % pageSize != 0) {
            throw new SnapshotException(name + ": bad geometry: page size " + pageSize + ", memory size " + memorySize);
        }
        if ((kind == FULL) != (parent == 0)) {
            throw new SnapshotException(name + ": a " + (kind == FULL ? "full snapshot with a parent" : "increment without a parent"));
        }
        long pageCount = memorySize / pageSize;
        if (stored < 0 || stored > pageCount || indexOffset < HEADER + (compressed ? 0 : stored * pageSize)
                || (!compressed && (indexOffset - HEADER) % pageSize != 0) || indexOffset + stored * ENTRY != size) {
            throw new SnapshotException(name + ": " + size + " bytes do not hold the " + stored + " pages and the index its header "
                    + "announces (truncated or damaged)");
        }
        if (stored * ENTRY > Integer.MAX_VALUE) {
            throw new SnapshotException(name + ": an index of " + stored + " pages is more than this reader takes");
        }
        ByteBuffer ib = ByteBuffer.allocate((int) (stored * ENTRY)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, ib, indexOffset, name);
        if (crc(ib.array(), 0, ib.capacity()) != indexCrc) {
            throw new SnapshotException(name + ": index checksum mismatch: damaged");
        }
        ib.flip();
        long[] pages = new long[(int) stored];
        long[] offsets = new long[(int) stored];
        int[] crcs = new int[(int) stored];
        int[] lengths = new int[(int) stored];
        for (int i = 0; i < stored; i++) {
            pages[i] = ib.getLong();
            offsets[i] = ib.getLong();
            crcs[i] = ib.getInt();
            int length = ib.getInt(); // 0 in version 1
            lengths[i] = compressed ? length : pageSize;
            boolean placed = compressed
                    ? lengths[i] > 0 && lengths[i] <= 2 * pageSize && offsets[i] >= HEADER && offsets[i] <= indexOffset - lengths[i]
                    : offsets[i] >= HEADER && offsets[i] <= indexOffset - pageSize && (offsets[i] - HEADER) % pageSize == 0;
            if (pages[i] < 0 || pages[i] >= pageCount || (i > 0 && pages[i] <= pages[i - 1]) || !placed) {
                throw new SnapshotException(name + ": index entry " + i + " (page " + pages[i] + " at " + offsets[i] + ", "
                        + lengths[i] + " bytes) is invalid");
            }
        }
        return new Layout(new Header(kind, compression, pageSize, memorySize, stored, indexOffset, id, parent, indexCrc),
                new Index(pages, offsets, crcs, lengths));
    }

    static void readFully(FileChannel ch, ByteBuffer b, long at, String name) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at + b.position());
            if (n < 0) {
                throw new SnapshotException(name + ": ends at " + (at + b.position()) + ": truncated");
            }
        }
    }
}
