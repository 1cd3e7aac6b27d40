package io.github.uffd4j.pager;

import java.net.URI;
import java.util.Objects;

/**
 * One region as the app describes it to the pager: where it is in the app's address space, its
 * page size, and the page source the pager opens for it (by URI: sources run in the pager and are
 * described, never passed as code). Immutable: thread safe.
 *
 * @param name     for logs (at most 256 characters)
 * @param address  start address in the app's address space, page aligned
 * @param length   bytes, a positive multiple of {@code pageSize}
 * @param pageSize the mapping's page size
 * @param source   what fills the pages: see {@link Sources} for the schemes the pager knows
 */
public record RegionSpec(String name, long address, long length, long pageSize, URI source) {

    public RegionSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(source, "source");
        if (name.length() > PagerProtocol.MAX_NAME) {
            throw new IllegalArgumentException("a region name has at most " + PagerProtocol.MAX_NAME + " characters");
        }
        if (pageSize <= 0 || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a power of two");
        }
        if (length <= 0 || length % pageSize != 0 || address <= 0 || address % pageSize != 0
                || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException("region [0x" + Long.toHexString(address) + " + " + length
                    + ") must be non-empty and aligned to its page size " + pageSize);
        }
        if (source.toString().length() > PagerProtocol.MAX_URI) {
            throw new IllegalArgumentException("a source URI has at most " + PagerProtocol.MAX_URI + " characters");
        }
    }
}
