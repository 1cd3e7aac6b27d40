package io.github.uffd4j.source;

import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class FileSourceTest {

    @TempDir
    Path dir;

    private Path randomFile(long size, long seed) throws Exception {
        byte[] b = new byte[(int) size];
        new Random(seed).nextBytes(b);
        return Files.write(dir.resolve("f-" + size + ".bin"), b);
    }

    @Test
    void everyByteOfAFileOfOddSizeThenZerosThroughALazySegment() throws Exception {
        long size = (8L << 20) + 123;
        Path f = randomFile(size, 1);
        byte[] want = Files.readAllBytes(f);
        long region = Memory.roundUp(size, Memory.pageSize()) + 4 * Memory.pageSize();
        try (FileSource src = FileSource.open(f);
             LazySegment lazy = LazySegment.builder(region, src).open()) {
            assertEquals(size, src.size());
            byte[] got = new byte[(int) size];
            lazy.copyTo(0, got, 0, got.length);
            assertArrayEquals(want, got);
            for (long o = size; o < region; o += 511) {
                assertEquals(0, lazy.getByte(o), "zero past the end of the file at " + o);
            }
        }
    }

    @Test
    void aDestinationSpanningTheEndIsFilledWithTheTailThenZerosNeverStaleBytes() throws Exception {
        Path f = randomFile(5000, 2);
        byte[] want = Files.readAllBytes(f);
        try (FileSource src = FileSource.open(f); Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(3 * 4096);
            dst.fill((byte) 0x5a); // stale bytes that must not survive
            src.fill(4096, dst);
            for (int i = 0; i < dst.byteSize(); i++) {
                byte expected = 4096 + i < want.length ? want[4096 + i] : 0;
                assertEquals(expected, dst.get(ValueLayout.JAVA_BYTE, i), "byte " + i);
            }
            dst.fill((byte) 0x5a);
            src.fill(1L << 40, dst); // far past the end
            for (int i = 0; i < dst.byteSize(); i++) {
                assertEquals(0, dst.get(ValueLayout.JAVA_BYTE, i));
            }
        }
    }

    @Test
    void anEmptyFileReadsAsZeros() throws Exception {
        Path f = Files.write(dir.resolve("empty"), new byte[0]);
        try (FileSource src = FileSource.open(f); LazySegment lazy = LazySegment.open(Memory.pageSize(), src)) {
            assertEquals(0, src.size());
            assertEquals(0, lazy.getLong(0));
        }
    }
}
