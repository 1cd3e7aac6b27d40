package io.github.uffd4j.snapshot;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.source.Compression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Snapshot files whose pages are compressed one by one (format version 2, written by
 * {@link SnapshotChain#compact(Path, Compression)}): smaller, restored byte for byte eagerly and
 * lazily, and a damaged compressed page is named, never read as wrong bytes.
 */
class SnapshotCompressionTest {

    private static final int PAGE = 4096;
    private static final int PAGES = 1024;

    @TempDir
    Path dir;

    /** Pages of words counting up (compressible), every 5th random (not), every 7th zeros (left out). */
    private static void fill(MemorySegment m) {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int p = 0; p < PAGES; p++) {
            for (int o = 0; o < PAGE; o += 8) {
                long v = p % 7 == 0 ? 0 : p % 5 == 0 ? rnd.nextLong() : p * 1000L + o / 64;
                m.set(ValueLayout.JAVA_LONG, (long) p * PAGE + o, v);
            }
        }
    }

    private Path baseSnapshot(MemorySegment memory) throws Exception {
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        Path base = dir.resolve("base.u4s");
        try (LiveSnapshots snaps = LiveSnapshots.of(memory)) {
            snaps.snapshot(base, Quiesce.NONE).await(Duration.ofSeconds(30));
        }
        return base;
    }

    @ParameterizedTest
    @EnumSource(value = Compression.class, names = {"ZSTD", "LZ4"})
    void aCompressedCompactionIsSmallerAndRestoresByteForByte(Compression c) throws Exception {
        try (Mapping m = Memory.anonymous((long) PAGES * PAGE); Arena arena = Arena.ofConfined()) {
            fill(m.segment());
            Path base = baseSnapshot(m.segment());
            Path packed = dir.resolve("packed-" + c + ".u4s");
            try (SnapshotChain chain = SnapshotChain.open(List.of(base))) {
                chain.compact(packed, c);
            }
            SnapshotFile.Info plain = SnapshotFile.describe(base);
            SnapshotFile.Info info = SnapshotFile.describe(packed);
            assertEquals(Compression.NONE, plain.compression());
            assertEquals(c, info.compression());
            assertEquals(plain.pagesStored(), info.pagesStored());
            assertTrue(info.fileSize() < plain.fileSize() * 0.6, c + ": " + info.fileSize() + " bytes vs " + plain.fileSize());
            MemorySegment restored = arena.allocate((long) PAGES * PAGE, PAGE);
            try (SnapshotFile f = SnapshotFile.open(packed)) {
                f.verify();
                f.restore(restored);
            }
            assertEquals(-1, restored.mismatch(m.segment()), "restored eagerly byte for byte");
            try (SnapshotFile f = SnapshotFile.open(packed); LazySegment lazy = LazySegment.open(f.memorySize(), f)) {
                for (long o = 0; o < (long) PAGES * PAGE; o += 8) {
                    if (lazy.getLong(o) != m.segment().get(ValueLayout.JAVA_LONG, o)) {
                        throw new AssertionError(c + ": lazily restored word at " + o + " differs");
                    }
                }
            }
        }
    }

    @Test
    void aDamagedCompressedPageIsNamedNotReadWrong() throws Exception {
        try (Mapping m = Memory.anonymous((long) PAGES * PAGE); Arena arena = Arena.ofConfined()) {
            fill(m.segment());
            Path base = baseSnapshot(m.segment());
            Path packed = dir.resolve("packed.u4s");
            try (SnapshotChain chain = SnapshotChain.open(List.of(base))) {
                chain.compact(packed, Compression.ZSTD);
            }
            try (FileChannel ch = FileChannel.open(packed, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(1);
                ch.read(b, SnapshotFormat.HEADER + 10);   // inside the first stored page's compressed bytes
                b.put(0, (byte) ~b.get(0)).rewind();
                ch.write(b, SnapshotFormat.HEADER + 10);
            }
            try (SnapshotFile f = SnapshotFile.open(packed)) {   // header and index are intact
                SnapshotException e = assertThrows(SnapshotException.class, f::verify);
                assertTrue(e.getMessage().contains("page 1 ") && e.getMessage().contains("damaged"), e.getMessage());
                MemorySegment out = arena.allocate((long) PAGES * PAGE, PAGE);
                assertThrows(SnapshotException.class, () -> f.restore(out));
            }
        }
    }

    @Test
    void aCompressedFileIsVersion2AndTruncationIsRefusedAtOpen() throws Exception {
        try (Mapping m = Memory.anonymous((long) PAGES * PAGE)) {
            fill(m.segment());
            Path base = baseSnapshot(m.segment());
            Path packed = dir.resolve("packed.u4s");
            try (SnapshotChain chain = SnapshotChain.open(List.of(base))) {
                chain.compact(packed, Compression.LZ4);
            }
            byte[] all = Files.readAllBytes(packed);
            assertEquals(2, all[8], "format version 2");
            assertEquals(1, Files.readAllBytes(base)[8], "uncompressed files stay version 1");
            Path cut = dir.resolve("cut.u4s");
            Files.write(cut, java.util.Arrays.copyOf(all, all.length - 10));
            SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(cut));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        }
    }

    @Test
    void aRewritableWriterTakesNoCompression() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SnapshotWriter(dir.resolve("x.u4s"),
                SnapshotFormat.FULL, PAGE, (long) PAGES * PAGE, 0, true, Compression.ZSTD));
        assertTrue(e.getMessage().contains("rewritable"), e.getMessage());
    }
}
