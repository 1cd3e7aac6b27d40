package io.github.uffd4j.bench;

import io.github.uffd4j.source.ChunkedWriter;
import io.github.uffd4j.source.Compression;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.nio2blob.FilesystemNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The datasets of {@link DatasetBench}, made once and kept under {@code target/bench/datasets}: a
 * realistic mix (JSON-like records, compressible, with one 128-byte run of random bytes in eight),
 * the same data packed with zstd and lz4 in 256 KiB and 1 MiB chunks, and the zstd files in a
 * local S3 server (S3Proxy in the benchmark's JVM, over a folder). {@link #dropCache} evicts the
 * files from the page cache (posix_fadvise DONTNEED) so that every run starts cold.
 */
final class Datasets {

    static final Path DIR = Path.of(System.getProperty("uffd4j.bench.datasets", "target/bench/datasets"));
    static final String BUCKET = "bench";
    private static final String KEY = "uffd4j-bench";
    private static final String SECRET = "uffd4j-bench-secret";

    private Datasets() {
    }

    /** The plain data file of {@code size} bytes, written if missing. */
    static synchronized Path plain(long size) throws IOException {
        Path f = path(size, "file");
        if (Files.exists(f) && Files.size(f) == size) {
            return f;
        }
        Files.createDirectories(DIR);
        Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            write(out, size, 20261122);
        }
        try (var ch = java.nio.channels.FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true); // written back, so that dropping the page cache really drops it
        }
        Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return f;
    }

    /** The mix: records like {"id":..,"name":"user-..",...} with 128 random bytes in place of one record in eight. */
    static void write(OutputStream out, long size, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] noise = new byte[128];
        long done = 0;
        while (done < size) {
            byte[] b;
            if (r.nextInt(8) == 0) {
                for (int i = 0; i < noise.length; i++) {
                    noise[i] = (byte) r.nextInt(256);
                }
                b = noise;
            } else {
                b = ("{\"id\":" + r.nextInt(1_000_000) + ",\"name\":\"user-" + r.nextInt(5000) + "\",\"score\":" + r.nextInt(100)
                        + ",\"tags\":[\"a\",\"b\"]}\n").getBytes(StandardCharsets.US_ASCII);
            }
            int n = (int) Math.min(b.length, size - done);
            out.write(b, 0, n);
            done += n;
        }
    }

    /** Where the file of dataset {@code name} is ("file", "zstd-1m", "lz4-256k", "s3-zstd-1m": the packed file the object is made of). */
    static Path path(long size, String name) {
        if (name.equals("file")) {
            return DIR.resolve("mix-" + size + ".bin");
        }
        String[] p = name.replace("s3-", "").split("-");
        return DIR.resolve("mix-" + size + "-" + p[0] + "-" + chunkSize(p[1]) / 1024 + "k.u4c");
    }

    /** The chunk size a dataset name gives: "1m", "256k", "64k". */
    static int chunkSize(String s) {
        int n = Integer.parseInt(s.substring(0, s.length() - 1));
        return switch (s.charAt(s.length() - 1)) {
            case 'm' -> n << 20;
            case 'k' -> n << 10;
            default -> throw new IllegalArgumentException("a chunk size such as 1m or 64k, not " + s);
        };
    }

    /** The file of dataset {@code name} ({@link #path}), written if missing: the plain data, or it packed as the name says. */
    static synchronized Path make(long size, String name) throws IOException {
        Path f = path(size, name);
        if (name.equals("file")) {
            return plain(size);
        }
        if (!Files.exists(f)) {
            String[] p = name.replace("s3-", "").split("-");
            ChunkedWriter.builder().compression(Compression.valueOf(p[0].toUpperCase(java.util.Locale.ROOT)))
                    .chunkSize(chunkSize(p[1])).write(plain(size), f);
        }
        return f;
    }

    /** A local S3 server over {@code DIR/s3}, with {@code file} uploaded as {@code key} if it is not there yet. */
    static final class LocalS3 implements AutoCloseable {
        final S3Proxy server;
        final S3Client client;

        LocalS3() throws Exception {
            Path blobs = Files.createDirectories(DIR.resolve("s3"));
            server = S3Proxy.builder().blobStore(new FilesystemNio2BlobStore(blobs.toString()))
                    .endpoint(URI.create("http://127.0.0.1:0")).awsAuthentication(AuthenticationType.AWS_V2_OR_V4, KEY, SECRET).build();
            server.start();
            for (int i = 0; i < 1000 && !"STARTED".equals(server.getState()); i++) {
                Thread.sleep(10);
            }
            client = S3Client.builder().endpointOverride(URI.create("http://127.0.0.1:" + server.getPort())).region(Region.US_EAST_1)
                    .forcePathStyle(true).credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(KEY, SECRET)))
                    .httpClientBuilder(UrlConnectionHttpClient.builder())
                    .overrideConfiguration(o -> o.retryStrategy(AwsRetryStrategy.doNotRetry())).build();
            if (client.listBuckets().buckets().stream().noneMatch(b -> b.name().equals(BUCKET))) {
                client.createBucket(b -> b.bucket(BUCKET));
            }
        }

        void upload(Path file, String key) throws IOException {
            boolean there;
            try {
                there = client.headObject(b -> b.bucket(BUCKET).key(key)).contentLength() == Files.size(file);
            } catch (software.amazon.awssdk.services.s3.model.NoSuchKeyException e) {
                there = false;
            }
            if (!there) {
                client.putObject(b -> b.bucket(BUCKET).key(key), RequestBody.fromFile(file));
            }
        }

        @Override
        public void close() throws Exception {
            client.close();
            server.stop();
        }
    }

    /** open, posix_fadvise and close from libc: linked on first use (the report reads {@link #DIR} without native access). */
    private static final class Libc {
        static final MethodHandle OPEN;
        static final MethodHandle FADVISE;
        static final MethodHandle CLOSE;

        static {
            Linker linker = Linker.nativeLinker();
            var libc = linker.defaultLookup();
            OPEN = linker.downcallHandle(libc.find("open").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            FADVISE = linker.downcallHandle(libc.find("posix_fadvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            CLOSE = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        }
    }

    /** Evicts every file under {@link #DIR} from the page cache (posix_fadvise POSIX_FADV_DONTNEED). */
    static void dropCache() throws IOException {
        try (Stream<Path> files = Files.walk(DIR)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                dropCache(f);
            }
        }
    }

    static void dropCache(Path f) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            int fd = (int) Libc.OPEN.invokeExact(a.allocateFrom(f.toString()), 0);
            if (fd < 0) {
                throw new IOException("open " + f + " failed");
            }
            int rc = (int) Libc.FADVISE.invokeExact(fd, 0L, 0L, 4 /* POSIX_FADV_DONTNEED */);
            int ignored = (int) Libc.CLOSE.invokeExact(fd);
            if (rc != 0) {
                throw new IOException("posix_fadvise(DONTNEED) of " + f + " failed: " + rc);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException(t);
        }
    }

    /** The resident set of this JVM in bytes (VmRSS). */
    static long rss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10;
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }
}
