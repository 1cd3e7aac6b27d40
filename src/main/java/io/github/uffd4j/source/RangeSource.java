package io.github.uffd4j.source;

import io.github.uffd4j.handler.PageSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Any {@link RangeReader}'s bytes as a page source (an object in S3, say): offset {@code o} of the
 * region holds the object's byte {@code o}, zeros past its end. One ranged read per call. Owns
 * the reader. Thread safe.
 */
public final class RangeSource implements PageSource, AutoCloseable {

    private final RangeReader in;

    /**
     * A page source over {@code in}'s bytes.
     *
     * @param in the reader, owned by this source from now on
     */
    public RangeSource(RangeReader in) {
        this.in = java.util.Objects.requireNonNull(in, "in");
    }

    /**
     * The object's size.
     *
     * @return the size in bytes
     */
    public long size() {
        return in.size();
    }

    /** Every byte of a destination is written: data, then zeros past its end. */
    @Override
    public boolean writesEveryByte() {
        return true;
    }

    @Override
    public void fill(long offset, MemorySegment destination) throws IOException {
        long n = Math.max(0, Math.min(destination.byteSize(), in.size() - offset));
        if (n > 0) {
            in.readFully(offset, destination.asSlice(0, n).asByteBuffer());
        }
        if (n < destination.byteSize()) {
            destination.asSlice(n).fill((byte) 0);
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }

    @Override
    public String toString() {
        return "RangeSource[" + in.describe() + "]";
    }
}
