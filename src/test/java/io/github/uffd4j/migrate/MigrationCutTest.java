package io.github.uffd4j.migrate;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import org.junit.jupiter.api.Test;

import java.io.DataInputStream;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The connection cut before the switchover, at several points of the precopy: the source keeps
 * running with its memory whole (every write its writer made is there), its writers are not left
 * stopped. Cut once the switchover was sent: the writers stay stopped and the memory as it was
 * (the target may be running). A later migration of the same memory to a real target succeeds,
 * every byte equal.
 * The source runs in this JVM (it takes no userfaultfd fault: WP_ASYNC only marks written pages).
 */
class MigrationCutTest {

    private static final long SIZE = 16L << 20;
    private static final int PAGE = 4096;

    /** One writer under a read lock, stamping random words and keeping a shadow of what it wrote. */
    private static final class Writer implements AutoCloseable {
        final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
        final long[] shadow = new long[(int) (SIZE / 8)];
        final AtomicLong writes = new AtomicLong();
        final AtomicBoolean stop = new AtomicBoolean();
        final Thread thread;

        Writer(MemorySegment m) {
            thread = Thread.ofPlatform().daemon().start(() -> {
                SplittableRandom rnd = new SplittableRandom(3);
                while (!stop.get()) {
                    try {
                        if (!lock.readLock().tryLock(10, TimeUnit.MILLISECONDS)) {
                            continue;   // stopped for a switchover
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    try {
                        int w = rnd.nextInt(shadow.length);
                        long v = writes.incrementAndGet();
                        m.set(ValueLayout.JAVA_LONG, w * 8L, v);
                        shadow[w] = v;
                    } finally {
                        lock.readLock().unlock();
                    }
                    if ((writes.get() & 255) == 0) {
                        Thread.onSpinWait();
                    }
                }
            });
        }

        void verify(MemorySegment m) {
            for (int w = 0; w < shadow.length; w++) {
                if (m.get(ValueLayout.JAVA_LONG, w * 8L) != shadow[w]) {
                    throw new AssertionError("word " + w + " is " + m.get(ValueLayout.JAVA_LONG, w * 8L) + ", the writer wrote "
                            + shadow[w]);
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(10_000);
        }
    }

    /**
     * A target that takes the source's two connections, reads {@code bytes} of the precopy (or,
     * for Long.MAX_VALUE, everything until the source has waited half a second for an answer: it
     * sent its switchover) and hangs up.
     */
    private static CompletableFuture<Long> cuttingTarget(ServerSocket server, long bytes) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket bulk = server.accept(); Socket urgent = server.accept()) {
                bulk.setSoTimeout(bytes == Long.MAX_VALUE ? 500 : 0);
                InputStream in = new DataInputStream(bulk.getInputStream());
                byte[] buf = new byte[1 << 16];
                long read = 0;
                while (read < bytes) {
                    int n;
                    try {
                        n = in.read(buf, 0, (int) Math.min(buf.length, bytes - read));
                    } catch (java.net.SocketTimeoutException quiet) {
                        break;   // the source waits for the target to run: hang up instead
                    }
                    if (n < 0) {
                        break;
                    }
                    read += n;
                }
                return read;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void aCutBeforeTheSwitchoverLeavesTheSourceRunningAndAMigrationLaterSucceeds() throws Exception {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Mapping mapping = Memory.anonymous(SIZE); Writer writer = new Writer(mapping.segment())) {
            MemorySegment m = mapping.segment();
            MigrationSource.Writers writers = MigrationSource.Writers.of(writer.lock);
            MigrationSource.Options options = new MigrationSource.Options(5, 0, Duration.ofSeconds(20), p -> { });
            // cut right after the hellos, a quarter into the first pass, and after more than one pass
            for (long cut : new long[] {64, SIZE / 4, 2 * SIZE}) {
                try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
                    CompletableFuture<Long> target = cuttingTarget(server, cut);
                    MigrationException e = assertThrows(MigrationException.class, () -> MigrationSource.migrate(m,
                            new InetSocketAddress(server.getInetAddress(), server.getLocalPort()), writers, options));
                    assertTrue(e.getMessage().contains("before the switchover"), "cut after " + cut + " bytes: " + e.getMessage());
                    target.get(30, TimeUnit.SECONDS);
                    long after = writer.writes.get();
                    Thread.sleep(50);
                    assertTrue(writer.writes.get() > after, "cut after " + cut + " bytes: the writer was left stopped");
                }
            }
            // cut once the switchover was sent: the target may be running, so the source keeps its copy, writers stopped
            try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
                CompletableFuture<Long> target = cuttingTarget(server, Long.MAX_VALUE);
                MigrationException e = assertThrows(MigrationException.class, () -> MigrationSource.migrate(m,
                        new InetSocketAddress(server.getInetAddress(), server.getLocalPort()), writers, options));
                assertTrue(e.getMessage().contains("after the switchover") && e.getMessage().contains("stay stopped"),
                        e.getMessage());
                assertTrue(target.get(30, TimeUnit.SECONDS) > SIZE, "the whole precopy was read");
                long stoppedAt = writer.writes.get();
                Thread.sleep(100);
                assertEquals(stoppedAt, writer.writes.get(), "the writers stay stopped: the memory is kept as it was");
                writer.verify(m);
                writers.resume();   // the application's decision (here: the target surely did not run)
            }
            // then a real target: everything arrives, equal to what the writer left at the switchover
            try (ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
                CompletableFuture<MigratedMemory> received = CompletableFuture.supplyAsync(() -> {
                    try {
                        return MigrationTarget.receive(server);
                    } catch (MigrationException x) {
                        throw new IllegalStateException(x);
                    }
                });
                MigrationSource.Report r = MigrationSource.migrate(m, new InetSocketAddress(server.getInetAddress(),
                        server.getLocalPort()), writers, MigrationSource.Options.DEFAULT);
                // the writers stay stopped after a successful migration (the write lock is held): the memory is final
                try (MigratedMemory target = received.get(60, TimeUnit.SECONDS)) {
                    assertTrue(target.awaitComplete(Duration.ofSeconds(60)), "every page arrived");
                    writer.verify(m);
                    assertEquals(-1, target.segment().mismatch(m), "the target equals the source's memory after " + r);
                }
            }
        }
    }
}
