package io.github.uffd4j.internal;

import io.github.uffd4j.source.Compression;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The compression library behind {@link Compression} (chunked datasets, snapshot files), kept in
 * this one class so that the rest of the library loads without it (an optional dependency:
 * aircompressor-v3). Decompressors keep state, so each thread has its own. A missing library is
 * reported through the caller's exception type (the {@code missing} argument), with what to add.
 */
public final class Codecs {

    private Codecs() {
    }

    /** Turns stored bytes back into the bytes they encode. */
    public interface Decoder {
        /** Decodes all of {@code input} into {@code output}; returns the bytes written. */
        int decode(MemorySegment input, MemorySegment output) throws Exception;
    }

    /** Compresses one block (a chunk, a page). Not thread safe. */
    public interface Encoder {
        /** The most bytes {@link #encode} writes for {@code length} bytes of input. */
        int maxEncodedLength(int length);

        /** Encodes all of {@code input} into {@code output}; returns the bytes written. */
        int encode(MemorySegment input, MemorySegment output);
    }

    /**
     * aircompressor-v3 reached through method handles: the module does not name it (the jar has no
     * module name but its file name, which a published module must not depend on), and reflection
     * needs no readability. Initialized on first use; when the library is absent that fails with a
     * NoClassDefFoundError, which {@link #missingLibrary} turns into what to add.
     */
    private static final class Airlift {
        static final MethodHandle ZSTD_DECOMPRESSOR;
        static final MethodHandle LZ4_DECOMPRESSOR;
        static final MethodHandle ZSTD_COMPRESSOR;
        static final MethodHandle LZ4_COMPRESSOR;
        /** {@code (Object decompressor, MemorySegment input, MemorySegment output) int}. */
        static final MethodHandle DECOMPRESS;
        /** {@code (Object compressor, MemorySegment input, MemorySegment output) int}. */
        static final MethodHandle COMPRESS;
        /** {@code (Object compressor, int length) int}. */
        static final MethodHandle MAX_COMPRESSED_LENGTH;

        static {
            try {
                MethodHandles.Lookup l = MethodHandles.publicLookup();
                ClassLoader loader = Codecs.class.getClassLoader();
                Class<?> decompressor = Class.forName("io.airlift.compress.v3.Decompressor", false, loader);
                Class<?> compressor = Class.forName("io.airlift.compress.v3.Compressor", false, loader);
                MethodType segments = MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class);
                DECOMPRESS = l.findVirtual(decompressor, "decompress", segments)
                        .asType(segments.insertParameterTypes(0, Object.class));
                COMPRESS = l.findVirtual(compressor, "compress", segments).asType(segments.insertParameterTypes(0, Object.class));
                MAX_COMPRESSED_LENGTH = l.findVirtual(compressor, "maxCompressedLength", MethodType.methodType(int.class, int.class))
                        .asType(MethodType.methodType(int.class, Object.class, int.class));
                ZSTD_DECOMPRESSOR = create(l, loader, "io.airlift.compress.v3.zstd.ZstdDecompressor");
                LZ4_DECOMPRESSOR = create(l, loader, "io.airlift.compress.v3.lz4.Lz4Decompressor");
                ZSTD_COMPRESSOR = create(l, loader, "io.airlift.compress.v3.zstd.ZstdCompressor");
                LZ4_COMPRESSOR = create(l, loader, "io.airlift.compress.v3.lz4.Lz4Compressor");
            } catch (ReflectiveOperationException e) {
                throw (NoClassDefFoundError) new NoClassDefFoundError("io.airlift:aircompressor-v3: " + e).initCause(e);
            }
        }

        /** The {@code create()} factory of the interface {@code name}, as {@code () Object}. */
        private static MethodHandle create(MethodHandles.Lookup l, ClassLoader loader, String name)
                throws ReflectiveOperationException {
            Class<?> type = Class.forName(name, false, loader);
            return l.findStatic(type, "create", MethodType.methodType(type)).asType(MethodType.methodType(Object.class));
        }

        private Airlift() {
        }
    }

    /** A decoder calling {@code decompressor}'s decompress (not thread safe, like the decompressor). */
    private static Decoder decoderOf(MethodHandle factory) {
        final Object d;
        try {
            d = (Object) factory.invokeExact();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return (in, out) -> {
            try {
                return (int) Airlift.DECOMPRESS.invokeExact(d, in, out);
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        };
    }

    private static final ThreadLocal<Decoder> ZSTD_DECODERS = ThreadLocal.withInitial(() -> decoderOf(Airlift.ZSTD_DECOMPRESSOR));
    private static final ThreadLocal<Decoder> LZ4_DECODERS = ThreadLocal.withInitial(() -> decoderOf(Airlift.LZ4_DECOMPRESSOR));

    /**
     * This thread's decoder for {@code c}.
     *
     * @param c the compression
     * @param missing makes the exception thrown when the library is missing, from a message saying what to add
     * @param <E> that exception's type
     * @return the decoder, this thread's own
     * @throws E when {@code c} needs the library and it is not there
     */
    public static <E extends Exception> Decoder decoder(Compression c, java.util.function.BiFunction<String, Throwable, E> missing)
            throws E {
        try {
            return switch (c) {
                case NONE -> (in, out) -> {
                    MemorySegment.copy(in, 0, out, 0, in.byteSize());
                    return (int) in.byteSize();
                };
                case ZSTD -> ZSTD_DECODERS.get();
                case LZ4 -> LZ4_DECODERS.get();
            };
        } catch (NoClassDefFoundError noLibrary) {
            throw missing.apply(missingLibrary(c), noLibrary);
        }
    }

    /**
     * A new encoder for {@code c} (not thread safe).
     *
     * @param c the compression
     * @param missing makes the exception thrown when the library is missing, from a message saying what to add
     * @param <E> that exception's type
     * @return the encoder
     * @throws E when {@code c} needs the library and it is not there
     */
    public static <E extends Exception> Encoder encoder(Compression c, java.util.function.BiFunction<String, Throwable, E> missing)
            throws E {
        try {
            MethodHandle factory = switch (c) {
                case NONE -> null;
                case ZSTD -> Airlift.ZSTD_COMPRESSOR;
                case LZ4 -> Airlift.LZ4_COMPRESSOR;
            };
            if (factory == null) {
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
            final Object compressor = call(() -> (Object) factory.invokeExact());
            return new Encoder() {
                @Override
                public int maxEncodedLength(int length) {
                    return call(() -> (int) Airlift.MAX_COMPRESSED_LENGTH.invokeExact(compressor, length));
                }

                @Override
                public int encode(MemorySegment input, MemorySegment output) {
                    return call(() -> (int) Airlift.COMPRESS.invokeExact(compressor, input, output));
                }
            };
        } catch (NoClassDefFoundError noLibrary) {
            throw missing.apply(missingLibrary(c), noLibrary);
        }
    }

    /** A call through a method handle, whose unchecked failures pass through as they are. */
    private interface HandleCall<T> {
        T call() throws Throwable;
    }

    private static <T> T call(HandleCall<T> c) {
        try {
            return c.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static String missingLibrary(Compression c) {
        return c + " needs the compression library io.airlift:aircompressor-v3 (3.5 or newer) on the "
                + "class path, or on the module path with --add-modules aircompressor.v3 (an optional dependency of uffd4j)";
    }
}
