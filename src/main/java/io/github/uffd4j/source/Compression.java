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

    private final int id;

    Compression(int id) {
        this.id = id;
    }

    /**
     * The number that stands for this compression in every uffd4j format (chunked files, snapshot
     * files, the migration protocol); it never changes.
     *
     * @return 0 for NONE, 1 for ZSTD, 2 for LZ4
     */
    public int id() {
        return id;
    }

    /**
     * The compression {@code id} stands for.
     *
     * @param id a number read from a file or a peer
     * @return the compression, or null when no compression has that number
     */
    public static Compression ofId(int id) {
        for (Compression c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        return null;
    }
}
