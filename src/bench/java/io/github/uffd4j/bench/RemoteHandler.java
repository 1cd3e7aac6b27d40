package io.github.uffd4j.bench;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.Userfaultfd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The cross-process handler of {@link PagerBench}: a second JVM (started with ProcessBuilder)
 * that receives the benchmark's userfaultfd over a unix socket (SCM_RIGHTS), as the pager does,
 * and serves it with the very {@link RawHandler} the in-process case runs. So the two cases
 * differ only in where the handler thread lives. The child holds its own copy of the source
 * pattern; it stops when the benchmark closes the socket.
 */
final class RemoteHandler implements Handler {

    private final Path dir;
    private final Process process;
    private final UnixSocket connection;

    RemoteHandler(Userfaultfd uffd, long base, long total, long unit, boolean pinned) {
        try {
            dir = Files.createTempDirectory("uffd4j-bench-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Path socket = dir.resolve("handler.sock");
        try (UnixSocket.Listener listener = UnixSocket.listen(socket)) {
            String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            process = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx128m",
                    "-cp", System.getProperty("java.class.path"), RemoteHandler.class.getName(), socket.toString(),
                    Long.toString(pinned ? 1 : 0))).inheritIO().start();
            connection = listener.accept(Duration.ofSeconds(60));
            if (connection == null) {
                process.destroyForcibly();
                throw new IllegalStateException("the handler process did not connect within 60 s");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the handler process", e);
        }
        ByteBuffer setup = ByteBuffer.allocate(24).putLong(base).putLong(total).putLong(unit);
        connection.send(setup.array(), uffd.fd());
        try (UnixSocket.Message ready = connection.receive(Duration.ofSeconds(60))) {
            if (ready == null || ready.isEndOfStream()) {
                throw new IllegalStateException("the handler process did not get ready");
            }
        }
    }

    @Override
    public void check() {
        if (!process.isAlive()) {
            throw new IllegalStateException("the handler process exited with status " + process.exitValue());
        }
    }

    @Override
    public void close() {
        connection.close();
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("the handler process did not stop");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try (var files = Files.list(dir)) {
                files.forEach(f -> f.toFile().delete());
            } catch (IOException ignored) {
                // gone
            }
            dir.toFile().delete();
        }
        if (process.exitValue() != 0) {
            throw new IllegalStateException("the handler process failed: status " + process.exitValue());
        }
    }

    /** The handler process: SOCKET PINNED(0|1). */
    public static void main(String[] args) {
        boolean pinned = args[1].equals("1");
        try (UnixSocket s = UnixSocket.connect(Path.of(args[0]));
             UnixSocket.Message m = s.receive(Duration.ofSeconds(60))) {
            ByteBuffer setup = ByteBuffer.wrap(m.data());
            long base = setup.getLong();
            long total = setup.getLong();
            long unit = setup.getLong();
            try (Userfaultfd uffd = Userfaultfd.adopt(m.takeFd(0), Set.of(), false);
                 Mapping source = Memory.anonymous(total)) {
                Workload.fillPattern(source.segment(), Memory.pageSize());
                RawHandler handler = new RawHandler(uffd, RawHandler.Resolve.COPY, base, source.address(), unit, pinned);
                s.send("ready".getBytes(StandardCharsets.US_ASCII));
                try (UnixSocket.Message end = s.receive(Duration.ofDays(1))) {
                    // the benchmark closed the connection (or sent something): stop
                }
                handler.close();
            }
        }
        System.exit(0);
    }
}
