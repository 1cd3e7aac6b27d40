package io.github.uffd4j.handler;

import io.github.uffd4j.source.FileSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The LazySegment example of README.md, as written there, over a real (sparse) file. */
class ReadmeHandlerExampleTest {

    @Test
    void theReadmeExampleReadsAFileLazily() throws Exception {
        Path dataset = Files.createTempFile("uffd4j-dataset", ".bin");
        try (FileChannel w = FileChannel.open(dataset, StandardOpenOption.WRITE)) {
            w.write(ByteBuffer.allocate(8).putLong(0, 0x1122334455667788L), 123_456_784);
            w.write(ByteBuffer.allocate(1).put(0, (byte) 1), (1L << 30) - 1);
        }
        try {
            long read;
            PageSource squares = (offset, dst) -> {           // page-aligned offset, whole pages to fill
                for (long i = 0; i < dst.byteSize(); i += 8) {
                    dst.set(java.lang.foreign.ValueLayout.JAVA_LONG, i, (offset + i) * (offset + i));
                }
            };
            try (FileSource file = FileSource.open(dataset);   // the README's Path.of("/data/big.bin")
                 LazySegment data = LazySegment.open(file.size(), file)) {
                long v = data.getLong(123_456_784);           // loads the block around it, once (native byte order)
                MemorySegment s = data.slice(0, 1 << 20);     // loaded: plain Java access from here on
                read = Long.reverseBytes(v);
                assertEquals(0, s.get(java.lang.foreign.ValueLayout.JAVA_LONG, 4096));
            }
            assertEquals(0x1122334455667788L, read);
            try (LazySegment sq = LazySegment.open(1 << 20, squares)) {
                assertEquals(40_000L * 40_000L, sq.getLong(40_000));
            }
        } finally {
            Files.delete(dataset);
        }
    }
}
