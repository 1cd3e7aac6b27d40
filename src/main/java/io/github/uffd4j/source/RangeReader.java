package io.github.uffd4j.source;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Byte ranges of one immutable object: a file, an object in a store. Thread safe: read from many
 * threads at once.
 */
public interface RangeReader extends AutoCloseable {

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
