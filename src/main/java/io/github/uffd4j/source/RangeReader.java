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

    /** A file, read with positional reads on one open channel. */
    static RangeReader open(Path file) throws IOException {
        return new FileRangeReader(file);
    }

    /**
     * What {@code uri} names: {@code file:/path}, {@code s3://bucket/key}
     * ({@link S3RangeReader#open(URI)}) or {@code http(s)://...} ({@link HttpRangeReader#open(URI)}).
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

    /** The object's size in bytes (fixed: the object must not change while it is read). */
    long size();

    /**
     * Reads exactly {@code dst.remaining()} bytes from {@code offset}. Fails (never returns
     * fewer bytes) when the range runs past the end or the object cannot be read.
     */
    void readFully(long offset, ByteBuffer dst) throws IOException;

    /** What the object is, for messages: a path, a URI. */
    String describe();

    @Override
    void close() throws IOException;
}
