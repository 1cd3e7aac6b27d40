package io.github.uffd4j;

/**
 * A run of pages that PAGEMAP_SCAN reported with the same categories.
 *
 * <p>Immutable: thread safe.
 *
 * @param start      first byte
 * @param end        one past the last byte
 * @param categories PAGE_IS_* bits (see {@link PagemapScanner})
 */
public record PageRegion(long start, long end, long categories) {

    /**
     * The length in bytes.
     *
     * @return the length, {@code end - start}
     */
    public long length() {
        return end - start;
    }
}
