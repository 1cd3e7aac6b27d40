package io.github.uffd4j.source;

import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageLoadException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayInputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

public class ChunkedSourceTest {

    private static final int CHUNK = 256 << 10;

    @TempDir
    Path dir;

    /** A realistic mix: text-like records (compress well) and runs of random bytes (do not). */
    public static byte[] mixed(int size, long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[size];
        int i = 0;
        while (i < size) {
            if (r.nextInt(8) == 0) {
                int n = Math.min(size - i, 128);
                byte[] noise = new byte[n];
                r.nextBytes(noise);
                System.arraycopy(noise, 0, b, i, n);
                i += n;
            } else {
                byte[] rec = ("{\"id\":" + r.nextInt(1_000_000) + ",\"name\":\"user-" + r.nextInt(5000)
                        + "\",\"score\":" + r.nextInt(100) + ",\"tags\":[\"a\",\"b\"]}\n").getBytes();
                int n = Math.min(size - i, rec.length);
                System.arraycopy(rec, 0, b, i, n);
                i += n;
            }
        }
        return b;
    }

    private Path pack(byte[] data, Compression c) throws Exception {
        Path out = dir.resolve("data-" + c + ".u4c");
        ChunkedWriter.builder().compression(c).chunkSize(CHUNK).write(new ByteArrayInputStream(data), out);
        return out;
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void everyByteComesBackThroughALazySegmentThenZeros(Compression c) throws Exception {
        byte[] data = mixed((24 << 20) + 777, 7);
        Path f = pack(data, c);
        long region = Memory.roundUp(data.length, Memory.pageSize()) + 2 * Memory.pageSize();
        try (ChunkedSource src = ChunkedSource.open(f); LazySegment lazy = LazySegment.builder(region, src).open()) {
            assertEquals(data.length, src.size());
            assertEquals(c, src.compression());
            byte[] got = new byte[data.length];
            lazy.copyTo(0, got, 0, got.length);
            assertArrayEquals(data, got);
            for (long o = data.length; o < region; o += 97) {
                assertEquals(0, lazy.getByte(o), "zero past the data at " + o);
            }
            ChunkedSource.Stats s = src.stats();
            System.out.printf("%s: %,d bytes in %,d bytes (%.2fx), %s%n", c, data.length, Files.size(f),
                    (double) data.length / Files.size(f), s);
            assertTrue(s.chunksDecoded() >= src.chunkCount(), "every chunk was decoded: " + s);
            if (c != Compression.NONE) {
                assertTrue(Files.size(f) < data.length * 0.8, c + " compresses the records");
            }
        }
    }

    @Test
    void theCacheStaysWithinItsBoundAndASequentialReaderIsPrefetched() throws Exception {
        byte[] data = mixed(16 << 20, 8);
        Path f = pack(data, Compression.LZ4);
        try (ChunkedSource src = ChunkedSource.builder().cacheBytes(1 << 20).prefetch(2).open(f);
             LazySegment lazy = LazySegment.builder(data.length, src).backgroundFill(false).open()) {
            for (long o = 0; o < data.length; o += Memory.pageSize()) {
                assertEquals(data[(int) o], lazy.getByte(o));
            }
            ChunkedSource.Stats s = src.stats();
            assertTrue(s.cachedBytes() <= 1 << 20, "cache bound: " + s);
            assertTrue(s.prefetched() > 0, "the sequential scan was prefetched: " + s);
        }
    }

    /**
     * Page-sized fills: at random chunks (neither the chunk nor the one before it read before) each
     * gets its bytes without the chunk being cached; a second read of a chunk caches it, and the
     * rest of a walk through it comes from the cache.
     */
    @Test
    void randomPartialFillsSkipTheCacheAndSequentialOnesUseIt() throws Exception {
        byte[] data = mixed(8 << 20, 9);
        Path f = pack(data, Compression.ZSTD);
        int page = (int) Memory.pageSize();
        try (ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(f);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(page);
            int chunks = (int) src.chunkCount();
            for (int i = 0; i < 20; i++) {
                int c = (i * 7 + 3) % chunks; // 20 different chunks, none read after its successor
                long o = (long) c * CHUNK + (long) ((i * 5) % (CHUNK / page)) * page;
                src.fill(o, dst);
                assertEquals(-1, dst.mismatch(MemorySegment.ofArray(data).asSlice(o, page)), "bytes at " + o);
            }
            assertEquals(0, src.stats().cachedBytes(), "random page reads cache nothing: " + src.stats());
            long decodedBefore = src.stats().chunksDecoded();
            int c = 5; // read once above: this walk reads it a second time
            for (long o = (long) c * CHUNK; o < (long) (c + 1) * CHUNK; o += page) {
                src.fill(o, dst);
                assertEquals(-1, dst.mismatch(MemorySegment.ofArray(data).asSlice(o, page)), "bytes at " + o);
            }
            ChunkedSource.Stats s = src.stats();
            assertEquals(1, s.chunksDecoded() - decodedBefore, "a walk through a chunk read before decodes it once: " + s);
            assertEquals(CHUNK / page - 1, s.cacheHits(), "the walk's later pages come from the cache: " + s);
        }
    }

    /**
     * Two walks page by page through different chunks, interleaved (as two handler threads serve
     * two streams): each walk's chunks are decoded about once, not once per page.
     */
    @Test
    void interleavedWalksDecodeEachChunkAboutOnce() throws Exception {
        byte[] data = mixed(8 << 20, 10);
        Path f = pack(data, Compression.LZ4);
        int page = (int) Memory.pageSize();
        try (ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(f);
             java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(page);
            long a = 2L * CHUNK;
            long b = 20L * CHUNK;
            long walked = 6L * CHUNK; // each walk: 6 chunks
            for (long o = 0; o < walked; o += page) {
                for (long start : new long[] {a, b}) {
                    src.fill(start + o, dst);
                    assertEquals(-1, dst.mismatch(MemorySegment.ofArray(data).asSlice(start + o, page)), "bytes at " + (start + o));
                }
            }
            ChunkedSource.Stats s = src.stats();
            // per walk: its first chunk twice (a random read, then cached at the second page), the other five once
            assertTrue(s.chunksDecoded() <= 2 * 7, "12 chunks walked, decoded " + s.chunksDecoded() + " times: " + s);
        }
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void decodeAllRestoresEverythingEagerlyAndWholeChunkFillsSkipTheCache(Compression c) throws Exception {
        byte[] data = mixed((3 << 20) + 1234, 12);
        Path f = pack(data, c);
        try (ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(f);
             io.github.uffd4j.Mapping m = Memory.anonymous(Memory.roundUp(data.length, Memory.pageSize()) + Memory.pageSize())) {
            m.segment().fill((byte) 7);
            src.decodeAll(m.segment(), 2);
            byte[] got = new byte[data.length];
            MemorySegment.copy(m.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0, got, 0, got.length);
            assertArrayEquals(data, got);
            assertEquals(-1, m.segment().asSlice(data.length).mismatch(MemorySegment.ofArray(new byte[(int) (m.segment().byteSize() - data.length)])),
                    "zeros past the data");
            assertEquals(src.chunkCount(), src.stats().chunksDecoded());
            // a fill of whole chunks decodes them in place: nothing cached, nothing decoded twice
            m.segment().fill((byte) 7);
            src.fill(CHUNK, m.segment().asSlice(0, 2L * CHUNK));
            assertEquals(-1, m.segment().asSlice(0, 2L * CHUNK).mismatch(MemorySegment.ofArray(data).asSlice(CHUNK, 2L * CHUNK)));
            assertEquals(0, src.stats().cachedBytes(), src.stats().toString());
        }
        long[] chunk2 = stored(f, 2);
        flip(f, chunk2[0] + chunk2[1] / 2);
        try (ChunkedSource src = ChunkedSource.open(f); io.github.uffd4j.Mapping m = Memory.anonymous(4 << 20)) {
            DatasetException e = assertThrows(DatasetException.class, () -> src.decodeAll(m.segment(), 2));
            assertTrue(e.getMessage().contains("chunk 2 (data"), e.getMessage());
        }
    }

    /** The stored bytes of chunk {@code c}: where, and how many. */
    private static long[] stored(Path f, int c) throws Exception {
        try (FileRangeReader r = new FileRangeReader(f)) {
            ChunkedFormat.Index ix = ChunkedFormat.readChecked(r).index();
            return new long[] {ix.offsets()[c], ix.lengths()[c]};
        }
    }

    private static void flip(Path f, long at) throws Exception {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x40)).rewind();
            ch.write(b, at);
        }
    }

    @ParameterizedTest
    @EnumSource(Compression.class)
    void aDamagedChunkFailsItsPagesWithAnErrorNamingItAndTheOthersStillRead(Compression c) throws Exception {
        byte[] data = mixed(4 << 20, 9);
        Path f = pack(data, c);
        long[] chunk3 = stored(f, 3);
        flip(f, chunk3[0] + chunk3[1] / 2);
        try (ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(f);
             LazySegment lazy = LazySegment.builder(data.length, src).backgroundFill(false).faultAround(Memory.pageSize())
                     .maxReadahead(Memory.pageSize()).open()) {
            PageLoadException e = assertThrows(PageLoadException.class, () -> lazy.getByte(3L * CHUNK + 100));
            Throwable cause = e;
            while (cause != null && !(cause instanceof DatasetException)) {
                cause = cause.getCause();
            }
            assertTrue(cause != null, "caused by a DatasetException: " + e);
            String m = cause.getMessage();
            assertTrue(m.contains("chunk 3 (data [" + 3L * CHUNK + ", " + 4L * CHUNK + "), stored at " + chunk3[0]), m);
            assertTrue(m.contains("checksum mismatch") || m.contains("cannot be decompressed") || m.contains("decompressed to"), m);
            assertEquals(data[2 * CHUNK + 5], lazy.getByte(2L * CHUNK + 5), "chunk 2 still reads");
            assertEquals(data[4 * CHUNK + 5], lazy.getByte(4L * CHUNK + 5), "chunk 4 still reads");
        }
    }

    private DatasetException openFails(Path f) {
        return assertThrows(DatasetException.class, () -> ChunkedSource.open(f).close());
    }

    private Path packed() throws Exception {
        return pack(mixed(1 << 20, 10), Compression.ZSTD);
    }

    private static void patchHeader(Path f, java.util.function.Consumer<ByteBuffer> edit) throws Exception {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            edit.accept(h);
            h.putInt(56, ChunkedFormat.crc(h.array(), 0, 56));
            ch.write(h.rewind(), 0);
        }
    }

    @Test
    void badFilesFailAtOpenSayingWhatIsWrong() throws Exception {
        Path notOurs = Files.write(dir.resolve("plain.bin"), mixed(100_000, 1));
        assertTrue(openFails(notOurs).getMessage().contains("not a uffd4j chunked file"));

        Path tiny = Files.write(dir.resolve("tiny"), new byte[10]);
        assertTrue(openFails(tiny).getMessage().contains("too short"));

        Path truncated = packed();
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 5);
        }
        assertTrue(openFails(truncated).getMessage().contains("truncated"));

        Path version = packed();
        patchHeader(version, h -> h.putShort(8, (short) 7));
        assertTrue(openFails(version).getMessage().contains("version 7 is not supported"));

        Path codec = packed();
        patchHeader(codec, h -> h.put(10, (byte) 9));
        assertTrue(openFails(codec).getMessage().contains("unknown compression 9"));

        Path header = packed();
        flip(header, 30);
        assertTrue(openFails(header).getMessage().contains("header's checksum"));

        Path index = packed();
        flip(index, Files.size(index) - 3);
        assertTrue(openFails(index).getMessage().contains("index's checksum"));

        Path chunkSize = packed();
        patchHeader(chunkSize, h -> h.putInt(12, 1000));
        assertTrue(openFails(chunkSize).getMessage().contains("chunk size 1000"));
    }

    @Test
    void bothSourcesOpenByUriAsAPagerOpensThem() throws Exception {
        byte[] data = mixed(3 << 20, 11);
        Path plain = Files.write(dir.resolve("plain.bin"), data);
        Path packed = pack(data, Compression.ZSTD);
        for (java.net.URI uri : new java.net.URI[] {plain.toUri(), java.net.URI.create("chunked+" + packed.toUri())}) {
            io.github.uffd4j.handler.PageSource src = io.github.uffd4j.pager.Sources.open(uri, data.length);
            try (LazySegment lazy = LazySegment.open(data.length, src)) {
                byte[] got = new byte[data.length];
                lazy.copyTo(0, got, 0, got.length);
                assertArrayEquals(data, got, uri.toString());
            } finally {
                ((AutoCloseable) src).close();
            }
        }
    }

    @Test
    void theWriterLeavesNoFileUnderTheFinalNameWhenItFails() throws Exception {
        Path out = dir.resolve("never.u4c");
        java.io.InputStream failing = new java.io.InputStream() {
            int n;

            @Override
            public int read() throws java.io.IOException {
                if (++n > 300_000) {
                    throw new java.io.IOException("disk went away");
                }
                return n & 0xff;
            }
        };
        assertThrows(java.io.IOException.class, () -> ChunkedWriter.builder().chunkSize(64 << 10).write(failing, out));
        assertTrue(!Files.exists(out), "no file under the final name");
        try (var left = Files.list(dir)) {
            assertEquals(0, left.count(), "no temporary file left either");
        }
    }
}
