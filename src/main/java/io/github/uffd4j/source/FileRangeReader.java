package io.github.uffd4j.source;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A file read with positional reads on one open channel. Thread safe. */
final class FileRangeReader implements RangeReader {

    private final Path path;
    private final FileChannel channel;
    private final long size;

    FileRangeReader(Path path) throws IOException {
        this.path = path;
        this.channel = FileChannel.open(path, StandardOpenOption.READ);
        try {
            this.size = channel.size();
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void readFully(long offset, ByteBuffer dst) throws IOException {
        int read = readUpTo(offset, dst);
        if (dst.hasRemaining()) {
            throw new DatasetException(path + ": ends at byte " + (offset + read) + ", a read needed " + dst.remaining()
                    + " more (the file is shorter than its index says: truncated?)");
        }
    }

    /** Reads what there is from {@code offset} up to {@code dst}'s end or the file's end; returns the bytes read. */
    int readUpTo(long offset, ByteBuffer dst) throws IOException {
        int total = 0;
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) {
                break;
            }
            pos += n;
            total += n;
        }
        return total;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
