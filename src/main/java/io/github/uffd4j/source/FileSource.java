package io.github.uffd4j.source;

import io.github.uffd4j.handler.PageSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A file's bytes as a page source: the region's offset {@code o} holds the file's byte {@code o};
 * past the end of the file, zeros. Positional reads on one channel opened once, each filling the
 * whole destination (a short read is read on, never left as stale bytes). Any size of file: a
 * region larger than the file reads zeros beyond it, a smaller one sees the file's start.
 * Thread safe.
 *
 * <pre>{@code
 * try (FileSource file = FileSource.open(Path.of("/data/big.bin"));
 *      LazySegment data = LazySegment.open(file.size(), file)) {
 *     long first = data.getLong(0);
 * }
 * }</pre>
 */
public final class FileSource implements PageSource, AutoCloseable {

    private final FileRangeReader file;

    private FileSource(FileRangeReader file) {
        this.file = file;
    }

    /**
     * Opens {@code path} for reading.
     *
     * @param path the file
     * @return the source, owned by the caller (close it)
     * @throws IOException when the file cannot be opened
     */
    public static FileSource open(Path path) throws IOException {
        return new FileSource(new FileRangeReader(path));
    }

    /**
     * The file's size when it was opened.
     *
     * @return the size in bytes
     */
    public long size() {
        return file.size();
    }

    /** Every byte of a destination is written: data, then zeros past its end. */
    @Override
    public boolean writesEveryByte() {
        return true;
    }

    @Override
    public void fill(long offset, MemorySegment destination) throws IOException {
        ByteBuffer b = destination.asByteBuffer();
        int n = offset < file.size() ? file.readUpTo(offset, b) : 0;
        if (n < destination.byteSize()) {
            destination.asSlice(n).fill((byte) 0); // past the end of the file
        }
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    @Override
    public String toString() {
        return "FileSource[" + file.describe() + ", " + file.size() + " bytes]";
    }
}
