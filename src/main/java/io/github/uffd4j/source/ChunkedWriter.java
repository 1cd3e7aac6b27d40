package io.github.uffd4j.source;

import io.github.uffd4j.internal.Codecs;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Objects;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * Writes the chunked format ({@link ChunkedSource} reads it): the data cut in chunks of a chosen
 * size, each compressed on its own and checksummed, an index, a header. The file is written under
 * a temporary name in the same directory, synced, then renamed: a file with the final name is
 * always whole. Not thread safe; one builder can write many files.
 *
 * <pre>{@code
 * ChunkedWriter.Summary s = ChunkedWriter.builder().compression(Compression.ZSTD).chunkSize(1 << 20)
 *         .write(Path.of("data.bin"), Path.of("data.u4c"));
 * }</pre>
 */
public final class ChunkedWriter {

    private Compression compression = Compression.ZSTD;
    private int chunkSize = 1 << 20;
    private int pageSize = 4096;
    private LongConsumer progress = bytes -> { };

    private ChunkedWriter() {
    }

    /**
     * A writer with zstd, 1 MiB chunks and 4 KiB pages.
     *
     * @return a new writer
     */
    public static ChunkedWriter builder() {
        return new ChunkedWriter();
    }

    /**
     * How chunks are compressed (default {@link Compression#ZSTD}).
     *
     * @param c the compression
     * @return this writer
     */
    public ChunkedWriter compression(Compression c) {
        this.compression = Objects.requireNonNull(c, "compression");
        return this;
    }

    /**
     * Bytes of data per chunk (default 1 MiB): the unit read, checksummed, decompressed and cached.
     * Smaller chunks make random lookups cheaper, larger ones compress better.
     *
     * @param bytes the chunk size in bytes
     * @return this writer
     */
    public ChunkedWriter chunkSize(int bytes) {
        if (bytes <= 0 || bytes > ChunkedFormat.MAX_CHUNK || bytes % pageSize != 0) {
            throw new IllegalArgumentException("chunk size must be a multiple of the page size " + pageSize + " up to "
                    + ChunkedFormat.MAX_CHUNK + ", not " + bytes);
        }
        this.chunkSize = bytes;
        return this;
    }

    /**
     * The page size the data will be served with (default 4096; 2 MiB for hugetlb regions).
     *
     * @param bytes the page size in bytes
     * @return this writer
     */
    public ChunkedWriter pageSize(int bytes) {
        if (bytes < ChunkedFormat.MIN_PAGE || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("page size must be a power of two of at least 4096, not " + bytes);
        }
        this.pageSize = bytes;
        if (chunkSize % bytes != 0) {
            chunkSize = Math.max(bytes, chunkSize / bytes * bytes);
        }
        return this;
    }

    /**
     * Called after each chunk with the data bytes written so far.
     *
     * @param bytesDone receives the data bytes written so far
     * @return this writer
     */
    public ChunkedWriter progress(LongConsumer bytesDone) {
        this.progress = Objects.requireNonNull(bytesDone, "bytesDone");
        return this;
    }

    /**
     * What was written.
     *
     * @param file the file written
     * @param compression its compression
     * @param dataBytes the bytes of data packed
     * @param fileBytes the size of the file
     * @param chunks the number of chunks
     * @param chunkSize the data bytes per chunk
     */
    public record Summary(Path file, Compression compression, long dataBytes, long fileBytes, long chunks, int chunkSize) {
        /**
         * Data bytes per file byte.
         *
         * @return {@code dataBytes / fileBytes}
         */
        public double ratio() {
            return fileBytes == 0 ? 1 : (double) dataBytes / fileBytes;
        }
    }

    /**
     * Packs the file {@code input} into {@code output}.
     *
     * @param input the file to pack
     * @param output the chunked file to write (replaced whole, never left half written)
     * @return what was written
     * @throws IOException when reading or writing fails
     */
    public Summary write(Path input, Path output) throws IOException {
        try (InputStream in = Files.newInputStream(input)) {
            return write(in, output);
        }
    }

    /**
     * Packs everything {@code input} gives until its end into {@code output}.
     *
     * @param input the data to pack; not closed
     * @param output the chunked file to write (replaced whole, never left half written)
     * @return what was written
     * @throws IOException when reading or writing fails
     */
    public Summary write(InputStream input, Path output) throws IOException {
        Path target = output.toAbsolutePath();
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Codecs.Encoder encoder = Codecs.encoder(compression, DatasetException::new);
        ByteBuffer index = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        long data = 0;
        long chunks = 0;
        try (Arena arena = Arena.ofConfined();
             FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                     StandardOpenOption.WRITE)) {
            byte[] chunk = new byte[chunkSize];
            MemorySegment plain = arena.allocate(chunkSize);
            MemorySegment packed = arena.allocate(encoder.maxEncodedLength(chunkSize));
            long pos = ChunkedFormat.HEADER_BYTES;
            CRC32C crc = new CRC32C();
            for (;;) {
                int n = input.readNBytes(chunk, 0, chunkSize);
                if (n == 0) {
                    break;
                }
                crc.reset();
                crc.update(chunk, 0, n);
                MemorySegment.copy(chunk, 0, plain, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, n);
                int stored = encoder.encode(plain.asSlice(0, n), packed);
                ByteBuffer b = packed.asSlice(0, stored).asByteBuffer();
                while (b.hasRemaining()) {
                    pos += out.write(b, pos);
                }
                if (index.remaining() < ChunkedFormat.ENTRY_BYTES) {
                    index = ByteBuffer.allocate(index.capacity() * 2).order(ByteOrder.LITTLE_ENDIAN).put(index.flip());
                }
                index.putLong(pos - stored).putInt(stored).putInt((int) crc.getValue());
                data += n;
                chunks++;
                progress.accept(data);
                if (n < chunkSize) {
                    break;
                }
            }
            index.flip();
            int indexCrc = ChunkedFormat.crc(index.array(), 0, index.limit());
            long indexOffset = pos;
            while (index.hasRemaining()) {
                pos += out.write(index, pos);
            }
            ByteBuffer header = new ChunkedFormat.Header(compression, chunkSize, pageSize, data, chunks, indexOffset, indexCrc)
                    .encode();
            long h = 0;
            while (header.hasRemaining()) {
                h += out.write(header, h);
            }
            out.force(true);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
                dir.force(true); // the rename itself
            } catch (IOException notSupported) {
                // some file systems cannot sync a directory: the data itself is synced
            }
            return new Summary(target, compression, data, pos, chunks, chunkSize);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }
}
