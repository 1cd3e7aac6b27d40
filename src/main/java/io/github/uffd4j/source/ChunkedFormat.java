package io.github.uffd4j.source;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The chunked file format, version 1. Little-endian throughout.
 *
 * <pre>
 * header, 64 bytes at offset 0
 *    0  magic        8 bytes "UFD4JCHK"
 *    8  version      u16 (1)
 *   10  compression  u8  (0 none, 1 zstd, 2 lz4)
 *   11  flags        u8  (0)
 *   12  chunk size   u32: bytes of data per chunk (a multiple of the page size; the last chunk may be shorter)
 *   16  page size    u32: a power of two, 4096 or more
 *   20  reserved     u32 (0)
 *   24  data size    u64: bytes of data in all
 *   32  chunk count  u64: ceil(data size / chunk size)
 *   40  index offset u64
 *   48  index CRC    u32: CRC32C of the index
 *   52  reserved     u32 (0)
 *   56  header CRC   u32: CRC32C of bytes 0 to 55
 *   60  reserved     u32 (0)
 * the chunks' stored bytes, one after another, from offset 64
 * the index at index offset: per chunk 16 bytes, offset u64 of its stored bytes, their length
 *   u32, and the CRC32C u32 of the chunk's data (after decompression)
 * the end of the file, right after the index
 * </pre>
 *
 * A writer writes to a temporary name, syncs and renames, so a file that has this name is whole;
 * a reader checks everything above at open and each chunk's CRC when it decodes it.
 */
final class ChunkedFormat {

    static final byte[] MAGIC = "UFD4JCHK".getBytes(StandardCharsets.US_ASCII);

    /** Whether {@code in} begins with the magic. */
    static boolean hasMagic(RangeReader in) throws IOException {
        if (in.size() < MAGIC.length) {
            return false;
        }
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length);
        in.readFully(0, b);
        return java.util.Arrays.equals(b.array(), MAGIC);
    }
    static final int VERSION = 1;
    static final int HEADER_BYTES = 64;
    static final int ENTRY_BYTES = 16;
    static final int MIN_PAGE = 4096;
    static final int MAX_CHUNK = 64 << 20;

    private ChunkedFormat() {
    }

    /** What the header says. */
    record Header(Compression compression, int chunkSize, int pageSize, long dataSize, long chunkCount, long indexOffset,
                  int indexCrc) {

        /** The data bytes of chunk {@code c} (the last one may be short). */
        int chunkLength(long c) {
            return (int) Math.min(chunkSize, dataSize - c * chunkSize);
        }

        ByteBuffer encode() {
            ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            b.put(MAGIC).putShort((short) VERSION).put((byte) compression.id()).put((byte) 0).putInt(chunkSize)
                    .putInt(pageSize).putInt(0).putLong(dataSize).putLong(chunkCount).putLong(indexOffset).putInt(indexCrc)
                    .putInt(0);
            b.putInt(crc(b.array(), 0, 56)).putInt(0);
            return b.flip();
        }
    }

    /** The index: where each chunk's stored bytes are and the CRC of its data. */
    record Index(long[] offsets, int[] lengths, int[] crcs) {
    }

    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /** A file's header and index. */
    record Layout(Header header, Index index) {
    }

    /** Reads and checks the header and the index of {@code in}: anything wrong is a {@link DatasetException}. */
    static Layout readChecked(RangeReader in) throws IOException {
        String name = in.describe();
        long fileSize = in.size();
        if (fileSize < HEADER_BYTES) {
            throw new DatasetException(name + ": " + fileSize + " bytes is too short for a uffd4j chunked file (header: "
                    + HEADER_BYTES + " bytes): truncated, or not such a file");
        }
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        in.readFully(0, h);
        byte[] raw = h.array();
        for (int i = 0; i < MAGIC.length; i++) {
            if (raw[i] != MAGIC[i]) {
                throw new DatasetException(name + ": not a uffd4j chunked file (no UFD4JCHK magic; scripts/pack makes one)");
            }
        }
        int version = Short.toUnsignedInt(h.getShort(8));
        if (version != VERSION) {
            throw new DatasetException(name + ": chunked format version " + version + " is not supported (this uffd4j reads "
                    + "version " + VERSION + ")");
        }
        if (h.getInt(56) != crc(raw, 0, 56)) {
            throw new DatasetException(name + ": the header's checksum does not match: the header is damaged");
        }
        Compression compression = Compression.ofId(Byte.toUnsignedInt(raw[10]));
        if (compression == null) {
            throw new DatasetException(name + ": unknown compression " + Byte.toUnsignedInt(raw[10]) + " (known: 0 none, 1 zstd, 2 lz4)");
        }
        int chunkSize = h.getInt(12);
        int pageSize = h.getInt(16);
        long dataSize = h.getLong(24);
        long chunks = h.getLong(32);
        long indexOffset = h.getLong(40);
        if (pageSize < MIN_PAGE || Integer.bitCount(pageSize) != 1) {
            throw new DatasetException(name + ": page size " + pageSize + " is not a power of two of at least " + MIN_PAGE);
        }
        if (chunkSize <= 0 || chunkSize > MAX_CHUNK || chunkSize % pageSize != 0) {
            throw new DatasetException(name + ": chunk size " + chunkSize + " is not a multiple of the page size " + pageSize
                    + " up to " + MAX_CHUNK);
        }
        if (dataSize < 0 || chunks != (dataSize + chunkSize - 1) / chunkSize) {
            throw new DatasetException(name + ": " + chunks + " chunks cannot hold " + dataSize + " bytes in chunks of " + chunkSize);
        }
        if (chunks > Integer.MAX_VALUE / ENTRY_BYTES) {
            throw new DatasetException(name + ": " + chunks + " chunks is more than this reader indexes; pack with larger chunks");
        }
        long indexBytes = chunks * ENTRY_BYTES;
        if (indexOffset < HEADER_BYTES || indexOffset + indexBytes != fileSize) {
            throw new DatasetException(name + ": the file has " + fileSize + " bytes where its header says "
                    + (indexOffset + indexBytes) + " (index at " + indexOffset + " + " + indexBytes + "): truncated or appended to");
        }
        Header header = new Header(compression, chunkSize, pageSize, dataSize, chunks, indexOffset, h.getInt(48));
        ByteBuffer ix = ByteBuffer.allocate((int) indexBytes).order(ByteOrder.LITTLE_ENDIAN);
        in.readFully(indexOffset, ix);
        if (crc(ix.array(), 0, (int) indexBytes) != header.indexCrc()) {
            throw new DatasetException(name + ": the index's checksum does not match: the index is damaged");
        }
        int n = (int) chunks;
        long[] offsets = new long[n];
        int[] lengths = new int[n];
        int[] crcs = new int[n];
        long end = HEADER_BYTES;
        for (int c = 0; c < n; c++) {
            offsets[c] = ix.getLong(c * ENTRY_BYTES);
            lengths[c] = ix.getInt(c * ENTRY_BYTES + 8);
            crcs[c] = ix.getInt(c * ENTRY_BYTES + 12);
            boolean fits = offsets[c] >= end && lengths[c] >= 0 && offsets[c] + lengths[c] <= indexOffset;
            boolean sized = compression != Compression.NONE || lengths[c] == header.chunkLength(c);
            if (!fits || !sized) {
                throw new DatasetException(name + ": index entry of chunk " + c + " (stored at " + offsets[c] + ", " + lengths[c]
                        + " bytes) is not inside the chunk area [" + end + ", " + indexOffset + ")"
                        + (sized ? "" : " or not the chunk's size"));
            }
            end = offsets[c] + lengths[c];
        }
        return new Layout(header, new Index(offsets, lengths, crcs));
    }
}
