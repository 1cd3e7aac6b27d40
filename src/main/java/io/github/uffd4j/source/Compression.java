package io.github.uffd4j.source;

/**
 * How the chunks of a {@link ChunkedSource} file are compressed. ZSTD and LZ4 need the optional
 * dependency {@code io.airlift:aircompressor-v3} (pure Java, with the native libraries it ships
 * used through the FFM API where they load) on the class or module path.
 */
public enum Compression {
    /** Stored as they are. */
    NONE(0),
    /** Zstandard: a good ratio, fast to decompress. */
    ZSTD(1),
    /** LZ4: a lower ratio, faster still. */
    LZ4(2);

    final int id;

    Compression(int id) {
        this.id = id;
    }

    static Compression ofId(int id) {
        for (Compression c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        return null;
    }
}
