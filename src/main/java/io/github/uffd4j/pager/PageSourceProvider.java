package io.github.uffd4j.pager;

import io.github.uffd4j.handler.PageSource;

import java.net.URI;

/**
 * Opens page sources for a URI scheme in the pager: the way to plug a source of one's own into
 * a pager process. Implementations are found with {@link java.util.ServiceLoader} (a
 * {@code provides} clause, or {@code META-INF/services/io.github.uffd4j.pager.PageSourceProvider}
 * on the pager's class path). Must be thread safe; the sources it opens are called from several
 * handler threads at once.
 */
public interface PageSourceProvider {

    /**
     * The URI scheme served, such as {@code "s3"}.
     *
     * @return the scheme, without the colon
     */
    String scheme();

    /**
     * Opens the source for a region of {@code length} bytes. Throw (with a message saying what is
     * wrong) to refuse it: the app gets the message.
     *
     * @param uri the URI the app asked for, of this provider's scheme
     * @param length the region's size in bytes
     * @return the page source
     * @throws Exception to refuse the source; its message goes to the app
     */
    PageSource open(URI uri, long length) throws Exception;
}
