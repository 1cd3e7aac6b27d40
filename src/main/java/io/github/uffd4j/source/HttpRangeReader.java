package io.github.uffd4j.source;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A file on any HTTP(S) server that answers range requests (RFC 9110), read with ranged GETs
 * through the JDK's {@link HttpClient} (connections kept alive and reused, HTTP/2 where the server
 * offers it): no dependency. At open a one-byte ranged GET learns the size and the validator (the
 * {@code ETag}, else {@code Last-Modified}); every read is conditional on it ({@code If-Match},
 * else {@code If-Unmodified-Since}) and must come back as {@code 206} with the range and total
 * asked for, so a file replaced while it is read is a clear error, never a mix of two versions. A
 * server that sends neither validator cannot be held to one version: only a changed size is
 * caught then. A server that ignores ranges is refused at open. Reads that fail with a 5xx, a
 * timeout, a reset connection or a short body are tried again, four times in all with growing
 * pauses; a 4xx is final. Thread safe.
 */
public final class HttpRangeReader implements RangeReader {

    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

    private final HttpClient http;
    private final boolean ownsClient;
    private final Duration timeout;
    private final URI uri;
    private final long size;
    private final String etag;
    private final String lastModified;

    private HttpRangeReader(HttpClient http, boolean ownsClient, URI uri, Duration timeout) throws IOException {
        this.http = http;
        this.ownsClient = ownsClient;
        this.timeout = timeout;
        this.uri = uri;
        HttpResponse<byte[]> first;
        try {
            first = send(get("bytes=0-0").build());
        } catch (IOException e) {
            throw new DatasetException(uri + ": cannot reach the server to open it: " + e, e);
        }
        Optional<String> strong = first.headers().firstValue("ETag").filter(t -> !t.startsWith("W/"));
        this.etag = strong.orElse(null);
        this.lastModified = etag == null ? first.headers().firstValue("Last-Modified").orElse(null) : null;
        this.size = switch (first.statusCode()) {
            case 206 -> total(first);
            case 416 -> emptyOrRefused(first);
            case 200 -> throw new DatasetException(uri + ": the server does not answer range requests (it sent the whole file "
                    + "for a one-byte range): serve it from a server that does, or download it first");
            default -> throw refused("opening", first.statusCode());
        };
    }

    /**
     * Opens {@code http://} or {@code https://} {@code uri} with a client of its own (HTTP/1.1 or 2,
     * 10 s to connect, 30 s for an answer).
     *
     * @param uri the file's URI
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the server cannot be reached, does not answer range requests, or refuses
     */
    public static HttpRangeReader open(URI uri) throws IOException {
        checkScheme(uri);
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        try {
            return new HttpRangeReader(client, true, uri, DEFAULT_TIMEOUT);
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /**
     * Opens {@code uri} with the caller's client (its proxy, TLS and authenticator settings apply;
     * not closed with this reader); a request that has no complete answer within {@code timeout}
     * is abandoned and tried again.
     *
     * @param client the HTTP client to use
     * @param uri the file's URI
     * @param timeout the longest wait for one answer
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the server cannot be reached, does not answer range requests, or refuses
     */
    public static HttpRangeReader open(HttpClient client, URI uri, Duration timeout) throws IOException {
        Objects.requireNonNull(client, "client");
        checkScheme(uri);
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive: " + timeout);
        }
        return new HttpRangeReader(client, false, uri, timeout);
    }

    private static void checkScheme(URI uri) {
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
            throw new IllegalArgumentException("not an http: or https: URI: " + uri);
        }
    }

    private HttpRequest.Builder get(String range) {
        return HttpRequest.newBuilder(uri).GET().timeout(timeout)
                .header("Range", range);
    }

    private HttpResponse<byte[]> send(HttpRequest request) throws IOException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DatasetException(uri + ": interrupted while reading", e);
        }
    }

    private long total(HttpResponse<?> r) throws DatasetException {
        Matcher m = contentRange(r);
        if (m == null || "*".equals(m.group(3))) {
            throw new DatasetException(uri + ": the server answered a range request without saying the file's size "
                    + "(Content-Range: " + r.headers().firstValue("Content-Range").orElse("absent") + ")");
        }
        return Long.parseLong(m.group(3));
    }

    private long emptyOrRefused(HttpResponse<?> r) throws DatasetException {
        String cr = r.headers().firstValue("Content-Range").orElse("");
        if (cr.equals("bytes */0")) {
            return 0;
        }
        throw refused("opening", 416);
    }

    private static Matcher contentRange(HttpResponse<?> r) {
        Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
        return m.matches() ? m : null;
    }

    @Override
    public long size() {
        return size;
    }

    /**
     * The validator the file had at open ({@code ETag} or {@code Last-Modified}), or empty when the server
     * sent neither.
     *
     * @return the validator, or empty
     */
    public Optional<String> validator() {
        return Optional.ofNullable(etag != null ? etag : lastModified);
    }

    @Override
    public void readFully(long offset, ByteBuffer dst) throws IOException {
        int want = dst.remaining();
        if (want == 0) {
            return;
        }
        String range = Retry.httpRange(this, offset, want);
        HttpRequest.Builder b = get(range);
        if (etag != null) {
            b.header("If-Match", etag);
        } else if (lastModified != null) {
            b.header("If-Unmodified-Since", lastModified);
        }
        HttpRequest request = b.build();
        Retry.run(uri + ": " + range, () -> {
            HttpResponse<byte[]> r = send(request);
            int status = r.statusCode();
            if (status >= 500) {
                throw new IOException(range + ": the server answered " + status);
            }
            if (status != 206) {
                throw refused("reading " + range + " of", status);
            }
            Matcher m = contentRange(r);
            if (m == null || Long.parseLong(m.group(1)) != offset || !String.valueOf(size).equals(m.group(3))) {
                throw new DatasetException(uri + ": asked for " + range + " of " + size + " bytes, the server sent Content-Range: "
                        + r.headers().firstValue("Content-Range").orElse("absent")
                        + (m != null && !String.valueOf(size).equals(m.group(3)) ? " (the file was replaced since it was opened)" : ""));
            }
            if (r.body().length != want) {
                throw Retry.shortBody(range, r.body().length, want);
            }
            dst.put(r.body());
        });
    }

    private DatasetException refused(String doing, int status) {
        String why = switch (status) {
            case 412 -> "the file was replaced since it was opened (it was " + validator().orElse("?") + "): reopen it to read the new version";
            case 401, 403 -> "access denied (" + status + "): give the client credentials the server accepts";
            case 404 -> "no such file (404)";
            case 416 -> "the server refused the range (416)";
            case 200 -> "the server ignored the range and sent the whole file (200)";
            default -> "the server answered " + status;
        };
        return new DatasetException(uri + ": " + doing + " it: " + why);
    }

    @Override
    public String describe() {
        return uri.toString();
    }

    @Override
    public void close() {
        if (ownsClient) {
            http.close();
        }
    }
}
