package io.github.uffd4j.source;

import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageLoadException;
import io.github.uffd4j.source.FaultProxy.Fault;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Remote datasets when the network misbehaves: a loopback proxy between the client and a real
 * server (S3Proxy, once with S3 authentication for {@link S3RangeReader}, once as a plain web
 * server for {@link HttpRangeReader}) answers 500, resets connections, stalls past the client's
 * timeout and cuts bodies short. Every transient fault is retried into the right bytes; a fault
 * that persists is an error at the page that needed the data, never wrong bytes.
 */
class RemoteFaultsTest {

    private static final String KEY = "uffd4j-test-key";
    private static final String SECRET = "uffd4j-test-secret";
    private static final Duration CLIENT_TIMEOUT = Duration.ofMillis(800);

    enum Kind { S3, HTTP }

    static Path dir;
    static S3Proxy s3Server;
    static S3Proxy webServer;
    static byte[] data;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("uffd4j-remote");
        Path blobs = Files.createDirectories(dir.resolve("blobs"));
        s3Server = server(blobs, AuthenticationType.AWS_V2_OR_V4);
        webServer = server(blobs, AuthenticationType.NONE);
        data = ChunkedSourceTest.mixed((4 << 20) + 777, 5);
        Path packed = dir.resolve("data.u4c");
        ChunkedWriter.builder().compression(Compression.ZSTD).chunkSize(128 << 10).write(new ByteArrayInputStream(data), packed);
        try (S3Client s3 = s3Client(s3Server.getPort())) {
            s3.createBucket(b -> b.bucket("data"));
            s3.putObject(b -> b.bucket("data").key("plain.bin"), RequestBody.fromBytes(data));
            s3.putObject(b -> b.bucket("data").key("data.u4c"), RequestBody.fromFile(packed));
        }
    }

    private static S3Proxy server(Path blobs, AuthenticationType auth) throws Exception {
        S3Proxy.Builder b = S3Proxy.builder().blobStore(new FilesystemNio2BlobStore(blobs.toString()))
                .endpoint(URI.create("http://127.0.0.1:0"));
        b = auth == AuthenticationType.NONE ? b.awsAuthentication(auth, null, null) : b.awsAuthentication(auth, KEY, SECRET);
        S3Proxy server = b.build();
        server.start();
        for (int i = 0; i < 1000 && !"STARTED".equals(server.getState()); i++) {
            Thread.sleep(10);
        }
        return server;
    }

    /** A client without retries of its own and a short timeout, so that the reader's retries are what is tested. */
    static S3Client s3Client(int port) {
        return S3Client.builder().endpointOverride(URI.create("http://127.0.0.1:" + port)).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(KEY, SECRET)))
                .httpClientBuilder(UrlConnectionHttpClient.builder().socketTimeout(CLIENT_TIMEOUT))
                .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry())).build();
    }

    @AfterAll
    static void stop() throws Exception {
        for (S3Proxy s : new S3Proxy[] {s3Server, webServer}) {
            if (s != null) {
                s.stop();
            }
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The reader of {@code key} through the proxy; closing it closes its client. */
    private static RangeReader open(Kind kind, FaultProxy proxy, String key) throws IOException {
        return switch (kind) {
            case S3 -> {
                S3Client client = s3Client(proxy.port());
                RangeReader r = S3RangeReader.open(client, "data", key);
                yield new Closing(r, client);
            }
            case HTTP -> {
                HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                RangeReader r = HttpRangeReader.open(client, URI.create("http://127.0.0.1:" + proxy.port() + "/data/" + key), CLIENT_TIMEOUT);
                yield new Closing(r, client);
            }
        };
    }

    /** A reader that also closes the client it was given. */
    private record Closing(RangeReader reader, AutoCloseable client) implements RangeReader {
        public long size() {
            return reader.size();
        }

        public void readFully(long offset, ByteBuffer dst) throws IOException {
            reader.readFully(offset, dst);
        }

        public String describe() {
            return reader.describe();
        }

        public void close() throws IOException {
            reader.close();
            try {
                client.close();
            } catch (Exception e) {
                throw new IOException(e);
            }
        }
    }

    private static byte[] read(RangeReader r, long offset, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        r.readFully(offset, b);
        return b.array();
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void eachTransientFaultIsRetriedIntoTheRightBytes(Kind kind) throws Exception {
        try (FaultProxy proxy = new FaultProxy(kind == Kind.S3 ? s3Server.getPort() : webServer.getPort());
             RangeReader r = open(kind, proxy, "plain.bin")) {
            assertEquals(data.length, r.size());
            int at = 0;
            for (Fault f : Fault.values()) {
                proxy.inject(f);
                int before = proxy.rangedGets.get();
                at += 300_001;
                assertArrayEquals(Arrays.copyOfRange(data, at, at + 100_000), read(r, at, 100_000), f + " gave wrong bytes");
                assertEquals(2, proxy.rangedGets.get() - before, f + ": one failed attempt and one retry");
            }
            assertEquals(Fault.values().length, proxy.injected.get());
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aFaultThatPersistsFailsThePageNamingChunkAndOffsetAndTheRestKeepsWorking(Kind kind) throws Exception {
        try (FaultProxy proxy = new FaultProxy(kind == Kind.S3 ? s3Server.getPort() : webServer.getPort());
             ChunkedSource src = ChunkedSource.builder().prefetchThreads(0).open(open(kind, proxy, "data.u4c"));
             LazySegment lazy = LazySegment.builder(data.length, src).backgroundFill(false).open()) {
            assertEquals(data[1], lazy.getByte(1));
            proxy.inject(Fault.RESET, Fault.TRUNCATE);
            proxy.always(Fault.STATUS_500);
            long offset = 10L * (128 << 10) + 5;
            PageLoadException e = assertThrows(PageLoadException.class, () -> lazy.getByte(offset),
                    () -> "injected " + proxy.injected + ", pending " + proxy.pending() + ", ranged GETs " + proxy.rangedGets + ", " + src.stats());
            String why = String.valueOf(datasetMessage(e));
            assertTrue(why.contains("data.u4c: chunk 10 (data [1310720, 1441792), stored at ") && why.contains("failed 4 times"), why);
            assertEquals(0, proxy.pending());
            assertTrue(proxy.injected.get() >= 4, proxy.injected + " attempts");
            proxy.always(null);
            assertEquals(data[(int) offset + 200_000], lazy.getByte(offset + 200_000), "other chunks still load");
            assertEquals(data[data.length - 1], lazy.getByte(data.length - 1));
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void parallelReadsShareAFewKeptAliveConnections(Kind kind) throws Exception {
        int threads = 4;
        int readsPerThread = 16;
        int length = 64 << 10;
        try (FaultProxy proxy = new FaultProxy(kind == Kind.S3 ? s3Server.getPort() : webServer.getPort());
             RangeReader r = open(kind, proxy, "plain.bin")) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int first = t;
                    done.add(pool.submit(() -> {
                        for (int i = 0; i < readsPerThread; i++) {
                            int at = (first + i * threads) * length;
                            assertArrayEquals(Arrays.copyOfRange(data, at, at + length), read(r, at, length));
                        }
                        return null;
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            } finally {
                pool.shutdown();
            }
            int reads = threads * readsPerThread;
            System.out.printf("%s: %d ranged reads from %d threads over %d connections (%d requests, most at once: %d)%n",
                    kind, reads, threads, proxy.connections.get(), proxy.requests.get(), proxy.mostInFlight.get());
            assertEquals(reads + 1, proxy.rangedGets.get() + (kind == Kind.S3 ? 1 : 0), "one request per read, plus the one at open");
            assertTrue(proxy.connections.get() <= threads + 1, proxy.connections.get() + " connections: not reused");
            assertTrue(proxy.mostInFlight.get() >= 2, "reads were not in flight at once");
        }
    }

    @org.junit.jupiter.api.Test
    void aWebFileReplacedWhileItIsReadIsAnErrorAndAServerIgnoringRangesIsRefusedAtOpen() throws Exception {
        try (S3Client s3 = s3Client(s3Server.getPort())) {
            s3.putObject(b -> b.bucket("data").key("changing.bin"), RequestBody.fromBytes(data));
            try (HttpRangeReader r = HttpRangeReader.open(URI.create("http://127.0.0.1:" + webServer.getPort() + "/data/changing.bin"))) {
                assertTrue(r.validator().isPresent(), "the server sends an ETag");
                assertArrayEquals(Arrays.copyOfRange(data, 0, 4096), read(r, 0, 4096));
                s3.putObject(b -> b.bucket("data").key("changing.bin"), RequestBody.fromBytes(ChunkedSourceTest.mixed(data.length, 6)));
                DatasetException e = assertThrows(DatasetException.class, () -> read(r, 8192, 4096));
                assertTrue(e.getMessage().contains("replaced since it was opened"), e.getMessage());
            }
        }
        try (java.net.ServerSocket whole = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress())) {
            Thread.ofPlatform().daemon().start(() -> { // a server that answers every request with the whole file
                try (java.net.Socket c = whole.accept()) {
                    var in = new java.io.BufferedReader(new java.io.InputStreamReader(c.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII));
                    while (!in.readLine().isEmpty()) {
                        // the request's head
                    }
                    c.getOutputStream().write("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n".getBytes());
                    c.getOutputStream().write(new byte[4096]);
                } catch (IOException ignored) {
                    // the test fails on what the client saw
                }
            });
            DatasetException e = assertThrows(DatasetException.class,
                    () -> HttpRangeReader.open(URI.create("http://127.0.0.1:" + whole.getLocalPort() + "/f")));
            assertTrue(e.getMessage().contains("does not answer range requests"), e.getMessage());
        }
    }

    private static String datasetMessage(Throwable t) {
        StringBuilder all = new StringBuilder();
        for (; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        return all.toString();
    }
}
