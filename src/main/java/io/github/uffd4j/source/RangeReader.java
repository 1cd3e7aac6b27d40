package io.github.uffd4j.source;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * Byte ranges of one immutable object: a file, an object in a store. Thread safe: read from many
 * threads at once.
 */
public interface RangeReader extends AutoCloseable {

    /**
     * A file, read with positional reads on one open channel.
     *
     * @param file the file
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the file cannot be opened
     */
    static RangeReader open(Path file) throws IOException {
        return new FileRangeReader(file);
    }

    /**
     * What {@code uri} names: {@code file:/path}, {@code s3://bucket/key}
     * ({@link S3RangeReader#open(URI)}) or {@code http(s)://...} ({@link HttpRangeReader#open(URI)}).
     *
     * @param uri the object's URI
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the object cannot be found or opened
     */
    static RangeReader open(URI uri) throws IOException {
        String scheme = String.valueOf(uri.getScheme());
        return switch (scheme) {
            case "file" -> open(Path.of(uri));
            case "s3" -> S3RangeReader.open(uri);
            case "http", "https" -> HttpRangeReader.open(uri);
            default -> throw new IllegalArgumentException("no range reader for " + uri + " (file:, s3:// and http(s):// are known)");
        };
    }

    /**
     * The object's size in bytes (fixed: the object must not change while it is read).
     *
     * @return the size in bytes
     */
    long size();

    /**
     * Reads exactly {@code dst.remaining()} bytes from {@code offset}. Fails (never returns
     * fewer bytes) when the range runs past the end or the object cannot be read.
     *
     * @param offset the first byte to read
     * @param dst filled up to its limit
     * @throws IOException when the range runs past the end or cannot be read
     */
    void readFully(long offset, ByteBuffer dst) throws IOException;

    /**
     * What the object is, for messages: a path, a URI.
     *
     * @return a description for messages
     */
    String describe();

    @Override
    void close() throws IOException;
}
