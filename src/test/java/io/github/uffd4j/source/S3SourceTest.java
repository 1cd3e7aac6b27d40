package io.github.uffd4j.source;

import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageLoadException;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Datasets in object storage, against a real S3 server: S3Proxy in this JVM on loopback, storing
 * its objects in a temporary folder. Uploaded with the AWS SDK, read lazily through the library.
 */
class S3SourceTest {

    private static final String KEY = "uffd4j-test-key";
    private static final String SECRET = "uffd4j-test-secret";

    @TempDir
    static Path dir;
    static S3Proxy server;
    static S3Client s3;
    static URI endpoint;
    static byte[] data;

    @BeforeAll
    static void start() throws Exception {
        Path blobs = Files.createDirectories(dir.resolve("blobs"));
        server = S3Proxy.builder().blobStore(new FilesystemNio2BlobStore(blobs.toString()))
                .endpoint(URI.create("http://127.0.0.1:0")).awsAuthentication(AuthenticationType.AWS_V2_OR_V4, KEY, SECRET)
                .build();
        server.start();
        for (int i = 0; i < 1000 && !"STARTED".equals(server.getState()); i++) {
            Thread.sleep(10);
        }
        endpoint = URI.create("http://127.0.0.1:" + server.getPort());
        s3 = client(KEY, SECRET);
        s3.createBucket(b -> b.bucket("data"));
        data = ChunkedSourceTest.mixed((6 << 20) + 321, 21);
        s3.putObject(b -> b.bucket("data").key("plain.bin"), RequestBody.fromBytes(data));
        Path packed = dir.resolve("data.u4c");
        ChunkedWriter.builder().compression(Compression.ZSTD).chunkSize(256 << 10).write(new ByteArrayInputStream(data), packed);
        s3.putObject(b -> b.bucket("data").key("data.u4c"), RequestBody.fromFile(packed));
    }

    static S3Client client(String key, String secret) {
        return S3Client.builder().endpointOverride(endpoint).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(key, secret)))
                .httpClientBuilder(UrlConnectionHttpClient.builder()).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (s3 != null) {
            s3.close();
        }
        if (server != null) {
            server.stop();
        }
    }

    private static void everyByte(io.github.uffd4j.handler.PageSource src) throws Exception {
        long region = Memory.roundUp(data.length, Memory.pageSize()) + Memory.pageSize();
        try (LazySegment lazy = LazySegment.open(region, src)) {
            byte[] got = new byte[data.length];
            lazy.copyTo(0, got, 0, got.length);
            assertArrayEquals(data, got);
            assertEquals(0, lazy.getByte(region - 1), "zeros past the object");
        }
    }

    @Test
    void aPlainObjectAndAChunkedOneReadLazilyByteForByte() throws Exception {
        try (RangeSource plain = new RangeSource(S3RangeReader.open(s3, "data", "plain.bin"))) {
            assertEquals(data.length, plain.size());
            everyByte(plain);
        }
        try (ChunkedSource chunked = ChunkedSource.builder().open(S3RangeReader.open(s3, "data", "data.u4c"))) {
            everyByte(chunked);
            assertTrue(chunked.stats().storedBytesRead() < data.length, "only compressed bytes came over the wire");
        }
    }

    @Test
    void byUriWithTheSettingsFoundAsTheAwsSdksFindThem() throws Exception {
        System.setProperty("aws.endpointUrl", endpoint.toString());
        System.setProperty("aws.accessKeyId", KEY);
        System.setProperty("aws.secretAccessKey", SECRET);
        System.setProperty("aws.region", "us-east-1");
        try {
            for (String uri : new String[] {"s3://data/plain.bin", "chunked+s3://data/data.u4c"}) {
                io.github.uffd4j.handler.PageSource src = io.github.uffd4j.pager.Sources.open(URI.create(uri), data.length);
                try {
                    everyByte(src);
                } finally {
                    ((AutoCloseable) src).close();
                }
            }
        } finally {
            for (String p : new String[] {"aws.endpointUrl", "aws.accessKeyId", "aws.secretAccessKey", "aws.region"}) {
                System.clearProperty(p);
            }
        }
    }

    @Test
    void theDemoServesPlainAndChunkedObjectsLazilyFromTheStoreAndTheWeb() throws Exception {
        System.setProperty("aws.accessKeyId", KEY);
        System.setProperty("aws.secretAccessKey", SECRET);
        System.setProperty("aws.region", "us-east-1");
        try {
            for (String key : new String[] {"plain.bin", "data.u4c"}) {
                assertEquals(0, io.github.uffd4j.demo.Demo.run("--paging-only", "--no-progress", "--lookups", "50",
                        "--url", "s3://data/" + key, "--endpoint", endpoint.toString()), key);
            }
        } finally {
            for (String p : new String[] {"aws.endpointUrl", "aws.accessKeyId", "aws.secretAccessKey", "aws.region"}) {
                System.clearProperty(p);
            }
        }
    }

    @Test
    void anObjectReplacedWhileItIsReadIsAnErrorNeverAMixOfVersions() throws Exception {
        s3.putObject(b -> b.bucket("data").key("changing.bin"), RequestBody.fromBytes(data));
        try (RangeSource src = new RangeSource(S3RangeReader.open(s3, "data", "changing.bin"));
             LazySegment lazy = LazySegment.builder(data.length, src).backgroundFill(false).open()) {
            assertEquals(data[10], lazy.getByte(10));
            byte[] other = ChunkedSourceTest.mixed(data.length, 99);
            s3.putObject(b -> b.bucket("data").key("changing.bin"), RequestBody.fromBytes(other));
            PageLoadException e = assertThrows(PageLoadException.class, () -> lazy.getByte(data.length - 10));
            assertTrue(String.valueOf(rootMessage(e)).contains("replaced since it was opened"), String.valueOf(rootMessage(e)));
            assertEquals(data[10], lazy.getByte(10), "what was read before stays the old version");
        }
    }

    private static String rootMessage(Throwable t) {
        while (t != null && !(t instanceof DatasetException)) {
            t = t.getCause();
        }
        return t == null ? null : t.getMessage();
    }

    @Test
    void aMissingObjectAndWrongCredentialsFailAtOpenSayingSo() throws Exception {
        DatasetException missing = assertThrows(DatasetException.class, () -> S3RangeReader.open(s3, "data", "nope.bin"));
        assertTrue(missing.getMessage().contains("s3://data/nope.bin") && missing.getMessage().contains("404"), missing.getMessage());
        try (S3Client wrong = client(KEY, "not-the-secret")) {
            DatasetException denied = assertThrows(DatasetException.class, () -> S3RangeReader.open(wrong, "data", "plain.bin"));
            assertTrue(denied.getMessage().contains("403"), denied.getMessage());
        }
    }
}
