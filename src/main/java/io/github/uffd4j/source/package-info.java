/**
 * Page sources over real storage: a file ({@link io.github.uffd4j.source.FileSource}), and a
 * chunked, indexed, checksummed and optionally compressed file of our own format
 * ({@link io.github.uffd4j.source.ChunkedSource}, written by {@link io.github.uffd4j.source.ChunkedWriter})
 * read from anything that answers byte-range reads ({@link io.github.uffd4j.source.RangeReader}):
 * a file, an object in S3 ({@link io.github.uffd4j.source.S3RangeReader}), a file on a web server
 * ({@link io.github.uffd4j.source.HttpRangeReader}).
 * Each is a {@link io.github.uffd4j.handler.PageSource} for a {@code LazySegment} or a
 * {@code FaultService}, and can be named by URI for a pager ({@link io.github.uffd4j.pager.Sources}).
 *
 * <p>Bad data is an error, never wrong bytes: a chunk whose checksum does not match, a truncated
 * file, a bad header or index fail at open (a {@link io.github.uffd4j.source.DatasetException}
 * saying what is wrong) or, for a chunk, at the page that needs it (the runtime's
 * {@code PageLoadException}, whose cause names the source, the chunk and its offset).
 */
package io.github.uffd4j.source;
