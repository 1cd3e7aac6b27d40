package io.github.uffd4j.migrate;

import io.github.uffd4j.internal.Codecs;
import io.github.uffd4j.source.Compression;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;

/**
 * The wire format of a migration, version 2: two TCP connections from the source to the target,
 * <em>bulk</em> (precopy rounds, the switchover, the postcopy push) and <em>urgent</em> (the
 * target's page requests and their answers, the target's acknowledgements), so that an urgent
 * page never queues behind the push. Both open with a hello; then frames of one type byte and
 * their fields, big-endian:
 * <pre>
 * hello      magic u64 "UFD4MIG1", version u32, connection u32 (0 bulk, 1 urgent), session u64,
 *            page size u32, memory size u64, compression u8 (0 none, 1 zstd, 2 lz4: of the bulk
 *            connection's pages)
 * PAGES      count u32 (1..64), then count x (page u32, kind u8, its data): kind 0 the page's
 *            bytes, 1 zeros (no data), 2 compressed (length u32, 1 to page size - 1, then the
 *            compressed bytes; bulk only, with the hello's compression)
 * SWITCHOVER words u32, then words x u64: the pages still to come, as a bit set
 * END        (bulk) every page has been pushed
 * REQUEST    page u32 (target to source, urgent)
 * PAGE       page u32, kind u8, data if kind 0 (source to target, urgent)
 * SWITCHED   the target runs (target to source, urgent)
 * DONE       every page arrived; the source may let its copy go (target to source, urgent)
 * REFUSED    reason (modified UTF-8): the target will not take this migration, sent before the
 *            switchover instead of a reply, then the target closes both connections (urgent)
 * </pre>
 * Everything read is checked: a malformed frame is a {@link MigrationException} naming it.
 */
final class MigrationProtocol {

    static final int VERSION = 2;
    static final int BULK = 0;
    static final int URGENT = 1;

    static final int PAGES = 1;
    static final int SWITCHOVER = 2;
    static final int END = 3;
    static final int REQUEST = 10;
    static final int PAGE = 11;
    static final int SWITCHED = 12;
    static final int DONE = 13;
    static final int REFUSED = 14;

    /** Pages per PAGES frame at most. */
    static final int MAX_BATCH = 64;
    static final int DATA = 0;
    static final int ZEROS = 1;
    static final int COMPRESSED = 2;

    private MigrationProtocol() {
    }

    /** What a hello says. */
    record Hello(int connection, long session, int pageSize, long size, Compression compression) {
        long pages() {
            return size / pageSize;
        }
    }

    static void writeHello(DataOutputStream out, Hello h) throws IOException {
        out.writeLong(MAGIC_VALUE);
        out.writeInt(VERSION);
        out.writeInt(h.connection());
        out.writeLong(h.session());
        out.writeInt(h.pageSize());
        out.writeLong(h.size());
        out.writeByte(h.compression().id());
        out.flush();
    }

    static Hello readHello(DataInputStream in) throws IOException {
        long magic = in.readLong();
        if (magic != MAGIC_VALUE) {
            throw new MigrationException("not a uffd4j migration peer (magic 0x" + Long.toHexString(magic) + ")");
        }
        int version = in.readInt();
        if (version != VERSION) {
            throw new MigrationException("the peer speaks migration protocol version " + version + "; this side speaks "
                    + VERSION + ": run the same uffd4j version on both sides");
        }
        int connection = in.readInt();
        long session = in.readLong();
        int pageSize = in.readInt();
        long size = in.readLong();
        int codec = in.readUnsignedByte();
        Compression compression = Compression.ofId(codec);
        if (compression == null) {
            throw new MigrationException("malformed hello: compression " + codec);
        }
        if (connection != BULK && connection != URGENT) {
            throw new MigrationException("malformed hello: connection kind " + connection);
        }
        if (pageSize <= 0 || Integer.bitCount(pageSize) != 1 || size <= 0 || size % pageSize != 0
                || size / pageSize > Integer.MAX_VALUE) {
            throw new MigrationException("malformed hello: page size " + pageSize + ", memory size " + size);
        }
        return new Hello(connection, session, pageSize, size, compression);
    }

    /** 'UFD4MIG1' as a big-endian long. */
    static final long MAGIC_VALUE = 0x554644344D494731L;

    /**
     * Writes pages: a kind and the data, zeros as a kind alone, and with a compression other than
     * NONE the compressed bytes where they are shorter than the page. One per sending thread.
     */
    static final class PageWriter {
        private final int pageSize;
        private final byte[] buf;
        private final MemorySegment bufSegment;
        private final Codecs.Encoder encoder;
        private final byte[] encoded;
        private final MemorySegment encodedSegment;

        /** @throws MigrationException when {@code compression} needs a library that is missing */
        PageWriter(int pageSize, Compression compression) throws MigrationException {
            this.pageSize = pageSize;
            this.buf = new byte[pageSize];
            this.bufSegment = MemorySegment.ofArray(buf);
            this.encoder = compression == Compression.NONE ? null : Codecs.encoder(compression, MigrationException::new);
            this.encoded = encoder == null ? null : new byte[encoder.maxEncodedLength(pageSize)];
            this.encodedSegment = encoded == null ? null : MemorySegment.ofArray(encoded);
        }

        void write(DataOutputStream out, MemorySegment memory, int page) throws IOException {
            out.writeInt(page);
            MemorySegment slice = memory.asSlice((long) page * pageSize, pageSize);
            if (slice.mismatch(zeros(pageSize)) < 0) {
                out.writeByte(ZEROS);
                return;
            }
            // a copy first: during the precopy writers change the memory, and a codec reading bytes that change
            // under it might not produce a stream that decodes (a page written meanwhile is sent again anyway)
            MemorySegment.copy(slice, ValueLayout.JAVA_BYTE, 0, buf, 0, pageSize);
            if (encoder != null) {
                int n = encoder.encode(bufSegment, encodedSegment);
                if (n > 0 && n < pageSize) {
                    out.writeByte(COMPRESSED);
                    out.writeInt(n);
                    out.write(encoded, 0, n);
                    return;
                }
            }
            out.writeByte(DATA);
            out.write(buf, 0, pageSize);
        }
    }

    private static volatile MemorySegment zeros = MemorySegment.NULL;

    /**
     * A page of zeros to compare with (vectorized, unlike a byte loop); replaced when another page
     * size comes (an automatic arena: the old one is freed, however often sizes alternate).
     */
    private static MemorySegment zeros(int pageSize) {
        MemorySegment z = zeros;
        if (z.byteSize() != pageSize) {
            z = java.lang.foreign.Arena.ofAuto().allocate(pageSize);
            zeros = z;
        }
        return z;
    }

    /** Reads a page number, checked against the memory's pages. */
    static int readPageNumber(DataInputStream in, long pages, String frame) throws IOException {
        int p = in.readInt();
        if (p < 0 || p >= pages) {
            throw new MigrationException("malformed " + frame + " frame: page " + p + " of " + pages);
        }
        return p;
    }

    /**
     * Reads a page's kind and, for data, its bytes into {@code buf} (page sized); returns whether
     * it is all zeros. A compressed page is decoded with {@code compression} (the hello's; NONE on
     * the urgent connection, where a compressed page is malformed), on the calling thread's decoder.
     */
    static boolean readPageData(DataInputStream in, byte[] buf, String frame, Compression compression) throws IOException {
        int kind = in.readUnsignedByte();
        if (kind == ZEROS) {
            return true;
        }
        if (kind == COMPRESSED && compression != Compression.NONE) {
            int n = in.readInt();
            if (n < 1 || n >= buf.length) {
                throw new MigrationException("malformed " + frame + " frame: a compressed page of " + n + " bytes (1 to "
                        + (buf.length - 1) + ")");
            }
            byte[] encoded = ENCODED.get();
            if (encoded.length < buf.length) {
                encoded = new byte[buf.length];
                ENCODED.set(encoded);
            }
            in.readFully(encoded, 0, n);
            int decoded;
            try {
                decoded = Codecs.decoder(compression, MigrationException::new)
                        .decode(MemorySegment.ofArray(encoded).asSlice(0, n), MemorySegment.ofArray(buf));
            } catch (MigrationException e) {
                throw e;
            } catch (Exception | LinkageError e) {
                throw new MigrationException("malformed " + frame + " frame: a " + compression + " page that does not decode: " + e, e);
            }
            if (decoded != buf.length) {
                throw new MigrationException("malformed " + frame + " frame: a " + compression + " page decoded to " + decoded
                        + " bytes, not " + buf.length);
            }
            return false;
        }
        if (kind != DATA) {
            throw new MigrationException("malformed " + frame + " frame: page kind " + kind
                    + (kind == COMPRESSED ? " (compressed, but the hello said no compression)" : ""));
        }
        in.readFully(buf);
        return false;
    }

    /** Each reading thread's buffer for the compressed bytes of a page. */
    private static final ThreadLocal<byte[]> ENCODED = ThreadLocal.withInitial(() -> new byte[0]);

    static int readBatchCount(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 1 || n > MAX_BATCH) {
            throw new MigrationException("malformed PAGES frame: " + n + " pages (1 to " + MAX_BATCH + ")");
        }
        return n;
    }

    /** Big-endian longs, as DataOutputStream writes them, copied in bulk (a word at a time, run once, is interpreted: ms). */
    private static final java.lang.foreign.ValueLayout.OfLong WIRE_LONG =
            java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN);

    static void writeBitSet(DataOutputStream out, BitSet set, long pages) throws IOException {
        int n = (int) ((pages + 63) / 64);
        long[] words = java.util.Arrays.copyOf(set.toLongArray(), n);
        byte[] bytes = new byte[n * 8];
        java.lang.foreign.MemorySegment.copy(words, 0, java.lang.foreign.MemorySegment.ofArray(bytes), WIRE_LONG, 0, n);
        out.writeInt(n);
        out.write(bytes);
    }

    static BitSet readBitSet(DataInputStream in, long pages) throws IOException {
        int n = in.readInt();
        if (n != (pages + 63) / 64) {
            throw new MigrationException("malformed SWITCHOVER frame: " + n + " words for " + pages + " pages");
        }
        byte[] bytes = new byte[n * 8];
        in.readFully(bytes);
        long[] words = new long[n];
        java.lang.foreign.MemorySegment.copy(java.lang.foreign.MemorySegment.ofArray(bytes), WIRE_LONG, 0, words, 0, n);
        BitSet set = BitSet.valueOf(words);
        if (set.length() > pages) {
            throw new MigrationException("malformed SWITCHOVER frame: page " + (set.length() - 1) + " of " + pages);
        }
        return set;
    }

    /** A frame type byte; end of stream is an exception naming {@code what} was expected. */
    static int readType(DataInputStream in, String what) throws IOException {
        int t = in.read();
        if (t < 0) {
            throw new EOFException("the peer closed the connection while " + what);
        }
        return t;
    }
}
