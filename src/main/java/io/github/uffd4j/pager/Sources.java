package io.github.uffd4j.pager;

import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.snapshot.SnapshotChain;
import io.github.uffd4j.source.ChunkedSource;
import io.github.uffd4j.source.FileSource;
import io.github.uffd4j.source.RangeSource;
import io.github.uffd4j.source.RangeReader;

import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Path;
import java.util.ServiceLoader;

/**
 * The page sources a pager opens by URI:
 * <ul>
 *   <li>{@code zero:/} (any URI of the scheme {@code zero}; {@link #ZERO}): pages of zeros;</li>
 *   <li>{@code pattern:SEED} (SEED a decimal long): the 8-byte word at offset {@code o} is
 *       {@link #patternWord patternWord(SEED, o)}, native byte order; for tests and demos that
 *       check every word;</li>
 *   <li>{@code file:/path}: the file's bytes from offset 0, zeros past its end
 *       ({@link io.github.uffd4j.source.FileSource});</li>
 *   <li>{@code chunked+file:/path}: a chunked, checksummed, optionally compressed file
 *       ({@link io.github.uffd4j.source.ChunkedSource}), zeros past its data;</li>
 *   <li>{@code s3://bucket/key} and {@code chunked+s3://bucket/key}: the same two kinds as objects
 *       in S3 ({@link io.github.uffd4j.source.S3RangeReader}; settings found as the AWS SDKs find them);</li>
 *   <li>{@code http(s)://...} and {@code chunked+http(s)://...}: the same two kinds as files on a
 *       web server that answers range requests ({@link io.github.uffd4j.source.HttpRangeReader});</li>
 *   <li>{@code snapshot:/path/full.u4s} or {@code snapshot:/path/full.u4s,/path/inc1.u4s,...}: a
 *       snapshot, or a chain of a full snapshot and its increments, oldest first
 *       ({@link io.github.uffd4j.snapshot.SnapshotFile}, {@link io.github.uffd4j.snapshot.SnapshotChain}):
 *       the memory as it was at the last one; every page is checked against its checksum;</li>
 *   <li>any other scheme: a {@link PageSourceProvider} found by {@link ServiceLoader}.</li>
 * </ul>
 * Thread safe.
 */
public final class Sources {

    /** Pages of zeros: {@code zero:/} (a URI needs something after the scheme; {@code zero:} alone does not parse). */
    public static final URI ZERO = URI.create("zero:/");

    private Sources() {
    }

    /**
     * The word at {@code offset} of a {@code pattern:SEED} source (a 64-bit mix of both).
     *
     * @param seed the pattern's seed
     * @param offset the word's byte offset, a multiple of 8
     * @return the word
     */
    public static long patternWord(long seed, long offset) {
        long z = seed * 0x9E3779B97F4A7C15L + offset;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Opens the source {@code uri} names for a region of {@code length} bytes.
     *
     * @param uri the source's URI
     * @param length the region's size in bytes
     * @return the page source
     */
    public static PageSource open(URI uri, long length) {
        String scheme = uri.getScheme();
        if (scheme == null) {
            throw new PagerException("source URI " + uri + " has no scheme (zero:/, pattern:SEED, file:/path, chunked+file:/path, s3://bucket/key, chunked+s3://bucket/key, http(s)://..., chunked+http(s)://..., snapshot:/path[,/path...], or a provider's)");
        }
        try {
            return switch (scheme) {
                case "zero" -> (offset, destination) -> destination.fill((byte) 0);
                case "pattern" -> pattern(Long.parseLong(uri.getSchemeSpecificPart()));
                case "file" -> FileSource.open(Path.of(uri));
                case "s3", "http", "https" -> new RangeSource(RangeReader.open(uri));
                case "chunked+file", "chunked+s3", "chunked+http", "chunked+https" -> ChunkedSource.builder()
                        .open(RangeReader.open(URI.create(scheme.substring("chunked+".length()) + ":" + uri.getRawSchemeSpecificPart())));
                case "snapshot" -> snapshot(uri, length);
                default -> provided(uri, length);
            };
        } catch (NumberFormatException e) {
            throw new PagerException("pattern: takes a decimal seed, not '" + uri.getSchemeSpecificPart() + "'");
        } catch (PagerException e) {
            throw e;
        } catch (Exception e) {
            throw new PagerException("cannot open source " + uri + ": " + e, e);
        }
    }

    private static PageSource pattern(long seed) {
        return (offset, destination) -> {
            long n = destination.byteSize();
            for (long o = 0; o + 8 <= n; o += 8) {
                destination.set(ValueLayout.JAVA_LONG_UNALIGNED, o, patternWord(seed, offset + o));
            }
        };
    }

    /** A snapshot file, or a chain of them (comma-separated, oldest first), for a region of {@code length} bytes. */
    private static PageSource snapshot(URI uri, long length) throws java.io.IOException {
        String ssp = uri.getSchemeSpecificPart();
        java.util.List<Path> files = java.util.Arrays.stream(ssp == null ? new String[0] : ssp.split(","))
                .map(String::strip).filter(f -> !f.isEmpty()).map(Path::of).toList();
        if (files.isEmpty()) {
            throw new PagerException("snapshot: takes a snapshot file, or a full snapshot and its increments separated by"
                    + " commas, oldest first (snapshot:/path/full.u4s,/path/inc1.u4s)");
        }
        SnapshotChain chain = SnapshotChain.open(files);
        if (length > Memory.roundUp(chain.memorySize(), chain.pageSize())) {
            chain.close();
            throw new PagerException("the snapshot " + uri + " holds " + chain.memorySize() + " bytes of memory, less than the"
                    + " region of " + length + " bytes it should fill");
        }
        return chain;
    }

    private static PageSource provided(URI uri, long length) throws Exception {
        for (PageSourceProvider p : ServiceLoader.load(PageSourceProvider.class)) {
            if (p.scheme().equals(uri.getScheme())) {
                return p.open(uri, length);
            }
        }
        throw new PagerException("no page source for the scheme '" + uri.getScheme() + "' (built in: zero:, pattern:SEED, "
                + "file:/path, chunked+file:/path, s3://, chunked+s3://, http(s)://, chunked+http(s)://, snapshot:; others come from a PageSourceProvider on the pager's class path)");
    }
}
