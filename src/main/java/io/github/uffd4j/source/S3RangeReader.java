package io.github.uffd4j.source;

import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.HeadObjectResponse;
import software.amazon.awssdk.services.s3.model.S3Exception;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Objects;

/**
 * An object in S3 (or any store speaking its API) read with ranged GETs. The object's size and
 * ETag are taken at open (HEAD) and every read is conditional on that ETag ({@code If-Match}): an
 * object replaced while it is read is a clear error, never a mix of two versions. A read that
 * fails with a 5xx, a timeout, a reset connection or a body shorter than asked is tried again, four
 * times in all with growing pauses; a 403 or 404 is not. (A client of the caller's keeps its own
 * retry settings, which then multiply with these; the default client has its own retries off.) Needs the optional dependency {@code software.amazon.awssdk:s3}
 * (with {@code url-connection-client}). Thread safe: the S3 client is, and each read is one request.
 */
public final class S3RangeReader implements RangeReader {

    private final S3Client s3;
    private final boolean ownsClient;
    private final String bucket;
    private final String key;
    private final long size;
    private final String etag;

    private S3RangeReader(S3Client s3, boolean ownsClient, String bucket, String key) throws IOException {
        this.s3 = s3;
        this.ownsClient = ownsClient;
        this.bucket = bucket;
        this.key = key;
        HeadObjectResponse head;
        try {
            head = s3.headObject(b -> b.bucket(bucket).key(key));
        } catch (S3Exception e) {
            throw refused("opening", e);
        } catch (SdkClientException e) {
            throw new DatasetException(describe() + ": cannot reach the store to open it: " + e.getMessage(), e);
        }
        this.size = head.contentLength();
        this.etag = head.eTag();
    }

    /**
     * Opens {@code s3://bucket/key} with a client configured the way the AWS SDKs find their
     * settings: credentials and region from the default chains (environment, system properties,
     * profile files, instance roles), an endpoint from {@code AWS_ENDPOINT_URL(_S3)} or
     * {@code aws.endpointUrl(S3)} (path-style addressing then, as local servers need).
     *
     * @param uri {@code s3://bucket/key}
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the object cannot be found or read (403 and 404 said in words)
     */
    public static S3RangeReader open(URI uri) throws IOException {
        if (!"s3".equals(uri.getScheme()) || uri.getHost() == null || uri.getPath() == null || uri.getPath().length() < 2) {
            throw new IllegalArgumentException("not an S3 object URI (s3://bucket/key): " + uri);
        }
        S3Client client = defaultClient();
        try {
            return new S3RangeReader(client, true, uri.getHost(), uri.getPath().substring(1));
        } catch (IOException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /**
     * Opens {@code bucket}/{@code key} with a client of the caller's (not closed with this reader).
     *
     * @param client the S3 client to use
     * @param bucket the bucket
     * @param key the object's key
     * @return the reader, owned by the caller (close it)
     * @throws IOException when the object cannot be found or read (403 and 404 said in words)
     */
    public static S3RangeReader open(S3Client client, String bucket, String key) throws IOException {
        return new S3RangeReader(Objects.requireNonNull(client, "client"), false, bucket, key);
    }

    /**
     * A client from the default settings chains, over the JDK's HTTP connection (kept alive and
     * reused), without retries of its own: {@link #readFully} retries.
     */
    static S3Client defaultClient() {
        var b = S3Client.builder().httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(10)).socketTimeout(Duration.ofSeconds(30)))
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry()));
        if (endpointConfigured()) {
            b.forcePathStyle(true);
        }
        return b.build();
    }

    private static boolean endpointConfigured() {
        return System.getenv("AWS_ENDPOINT_URL") != null || System.getenv("AWS_ENDPOINT_URL_S3") != null
                || System.getProperty("aws.endpointUrl") != null || System.getProperty("aws.endpointUrlS3") != null;
    }

    @Override
    public long size() {
        return size;
    }

    /**
     * The ETag the object had at open; every read asks for that version.
     *
     * @return the ETag
     */
    public String etag() {
        return etag;
    }

    @Override
    public void readFully(long offset, ByteBuffer dst) throws IOException {
        int want = dst.remaining();
        if (want == 0) {
            return;
        }
        String range = Retry.httpRange(this, offset, want);
        Retry.run(describe() + ": " + range, () -> {
            ByteBuffer body;
            try {
                body = s3.getObjectAsBytes(b -> b.bucket(bucket).key(key).range(range).ifMatch(etag)).asByteBuffer();
            } catch (S3Exception e) {
                if (e.statusCode() < 500) {
                    throw refused("reading " + range + " of", e);
                }
                throw e;
            }
            if (body.remaining() != want) {
                throw Retry.shortBody(range, body.remaining(), want);
            }
            dst.put(body);
        });
    }

    /** A 4xx from the store, said in words. */
    private DatasetException refused(String doing, S3Exception e) {
        String code = e.awsErrorDetails() != null ? e.awsErrorDetails().errorCode() : null;
        String why = switch (e.statusCode()) {
            case 412 -> "the object was replaced since it was opened (its ETag was " + etag + "): reopen it to read the new version";
            case 403 -> "access denied (403" + (code != null ? " " + code : "") + "): check the credentials and the bucket policy";
            case 404 -> "no such object (404" + (code != null ? " " + code : "") + ")";
            default -> "the store answered " + e.statusCode() + (code != null ? " " + code : "") + ": " + e.getMessage();
        };
        return new DatasetException(describe() + ": " + doing + " it: " + why, e);
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + key;
    }

    @Override
    public void close() {
        if (ownsClient) {
            s3.close();
        }
    }
}
