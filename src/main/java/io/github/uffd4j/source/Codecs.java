package io.github.uffd4j.source;

import java.lang.foreign.MemorySegment;

/**
 * The compression library behind {@link Compression}, kept in this one class so that the rest
 * of the library loads without it (an optional dependency: aircompressor-v3). Decompressors keep
 * state, so each thread has its own.
 */
final class Codecs {

    private Codecs() {
    }

    /** Turns a chunk's stored bytes back into its bytes. */
    interface Decoder {
        /** Decodes all of {@code input} into {@code output}; returns the bytes written. */
        int decode(MemorySegment input, MemorySegment output) throws Exception;
    }

    /** Compresses one chunk. */
    interface Encoder {
        int maxEncodedLength(int length);

        /** Encodes all of {@code input} into {@code output}; returns the bytes written. */
        int encode(MemorySegment input, MemorySegment output);
    }

    private static final ThreadLocal<Decoder> ZSTD_DECODERS = ThreadLocal.withInitial(() -> {
        io.airlift.compress.v3.zstd.ZstdDecompressor d = io.airlift.compress.v3.zstd.ZstdDecompressor.create();
        return d::decompress;
    });
    private static final ThreadLocal<Decoder> LZ4_DECODERS = ThreadLocal.withInitial(() -> {
        io.airlift.compress.v3.lz4.Lz4Decompressor d = io.airlift.compress.v3.lz4.Lz4Decompressor.create();
        return d::decompress;
    });

    /** This thread's decoder for {@code c}; throws a {@link DatasetException} saying what to add when the library is missing. */
    static Decoder decoder(Compression c) throws DatasetException {
        try {
            return switch (c) {
                case NONE -> (in, out) -> {
                    MemorySegment.copy(in, 0, out, 0, in.byteSize());
                    return (int) in.byteSize();
                };
                case ZSTD -> ZSTD_DECODERS.get();
                case LZ4 -> LZ4_DECODERS.get();
            };
        } catch (NoClassDefFoundError missing) {
            throw missingLibrary(c, missing);
        }
    }

    /** A new encoder for {@code c} (not thread safe). */
    static Encoder encoder(Compression c) throws DatasetException {
        try {
            io.airlift.compress.v3.Compressor compressor = switch (c) {
                case NONE -> null;
                case ZSTD -> io.airlift.compress.v3.zstd.ZstdCompressor.create();
                case LZ4 -> io.airlift.compress.v3.lz4.Lz4Compressor.create();
            };
            if (compressor == null) {
                return new Encoder() {
                    @Override
                    public int maxEncodedLength(int length) {
                        return length;
                    }

                    @Override
                    public int encode(MemorySegment input, MemorySegment output) {
                        MemorySegment.copy(input, 0, output, 0, input.byteSize());
                        return (int) input.byteSize();
                    }
                };
            }
            return new Encoder() {
                @Override
                public int maxEncodedLength(int length) {
                    return compressor.maxCompressedLength(length);
                }

                @Override
                public int encode(MemorySegment input, MemorySegment output) {
                    return compressor.compress(input, output);
                }
            };
        } catch (NoClassDefFoundError missing) {
            throw missingLibrary(c, missing);
        }
    }

    private static DatasetException missingLibrary(Compression c, Throwable cause) {
        return new DatasetException(c + " needs the compression library io.airlift:aircompressor-v3 (3.5 or newer) on the "
                + "class or module path (an optional dependency of uffd4j)", cause);
    }
}
