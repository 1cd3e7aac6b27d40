package io.github.uffd4j.migrate;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.BitSet;
import java.util.Objects;

import static io.github.uffd4j.migrate.MigrationProtocol.*;

/**
 * The receiving side of a postcopy migration (see {@link MigrationSource}): accepts a source on
 * a server socket, takes in the precopy rounds, and returns at the switchover with the memory
 * live as a {@link MigratedMemory}; the pages still to come arrive in the background, and a page
 * touched before it arrived is asked for ahead of the push.
 *
 * <p>The memory is served by a {@link io.github.uffd4j.handler.FaultService} in this JVM until
 * every page arrived. Until then plain Java loads and stores of pages not yet arrived would take
 * a fault this JVM serves itself (a safepoint can freeze the JVM): use
 * {@link MigratedMemory#load} first (it faults the pages in from native code), or native code,
 * or wait for {@link MigratedMemory#awaitComplete}; after it the memory is plain memory.
 *
 * <p>If the source goes away before the switchover, {@link #receive} throws and nothing was
 * started here. After it, pages that never arrived fail when touched (a
 * {@link io.github.uffd4j.handler.PageLoadException}), never reading as zeros.
 */
public final class MigrationTarget {

    /**
     * Settings.
     *
     * @param timeout for the source's connections and for each page asked for
     * @param threads handler threads serving faults after the switchover
     */
    public record Options(Duration timeout, int threads) {

        /** 60 s, 2 threads. */
        public static final Options DEFAULT = new Options(Duration.ofSeconds(60), 2);

        /** Checks that the timeout is given and there is at least one thread. */
        public Options {
            Objects.requireNonNull(timeout, "timeout");
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1: " + threads);
            }
        }
    }

    private MigrationTarget() {
    }

    /**
     * {@link #receive(ServerSocket, Options)} with {@link Options#DEFAULT}.
     *
     * @param server the socket to accept the source's connection on
     * @return the memory, live, owned by the caller (close it)
     * @throws MigrationException the source went away or misbehaved before the switchover
     */
    public static MigratedMemory receive(ServerSocket server) throws MigrationException {
        return receive(server, Options.DEFAULT);
    }

    /**
     * Accepts one migration on {@code server} and returns at its switchover, with the memory live.
     *
     * @param server the socket to accept the source's connection on
     * @param options timeout and handler threads
     * @return the memory, live, owned by the caller (close it)
     * @throws MigrationException the source went away or misbehaved before the switchover
     */
    public static MigratedMemory receive(ServerSocket server, Options options) throws MigrationException {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(options, "options");
        int timeout = (int) Math.min(Integer.MAX_VALUE, options.timeout().toMillis());
        Socket bulk = null;
        Socket urgent = null;
        Mapping mapping = null;
        io.github.uffd4j.handler.FaultService service = null;
        try {
            server.setSoTimeout(timeout);
            bulk = server.accept();
            bulk.setSoTimeout(timeout);
            DataInputStream bulkIn = new DataInputStream(new BufferedInputStream(bulk.getInputStream(), 1 << 16));
            Hello hello = readHello(bulkIn);
            urgent = server.accept();
            urgent.setSoTimeout(0); // requests are answered when pages are touched: no time limit on the reader
            urgent.setTcpNoDelay(true);
            Hello second = readHello(new DataInputStream(urgent.getInputStream()));
            if (hello.connection() != BULK || second.connection() != URGENT || second.session() != hello.session()) {
                throw new MigrationException("the source's two connections do not match (a second source connected?)");
            }
            if (hello.pageSize() != Memory.pageSize()) {
                throw new MigrationException("the source's pages are " + hello.pageSize() + " bytes, this machine's "
                        + Memory.pageSize());
            }
            mapping = Memory.anonymous(hello.size());
            service = MigratedMemory.newService(hello.pageSize(), options);
            BitSet written = new BitSet();
            BitSet stale = precopy(bulkIn, mapping.segment(), hello, written);
            MigratedMemory m = MigratedMemory.start(mapping, service, hello, written, stale, bulk, bulkIn, urgent, options);
            mapping = null;
            service = null;
            return m;
        } catch (IOException | RuntimeException e) {
            closeQuietly(bulk);
            closeQuietly(urgent);
            if (service != null) {
                service.close();
            }
            if (mapping != null) {
                mapping.close();
            }
            throw new MigrationException("migration from " + (bulk != null ? bulk.getRemoteSocketAddress() : "a source")
                    + " failed before the switchover (nothing runs here): " + e.getMessage(), e);
        }
    }

    /**
     * Writes the precopy rounds into the memory (not registered yet: plain stores) until the
     * switchover; returns the pages named there (dropped here: stale or unsent). {@code written}
     * ends as the pages holding their final data.
     */
    private static BitSet precopy(DataInputStream in, MemorySegment memory, Hello hello, BitSet written) throws IOException {
        int pageSize = hello.pageSize();
        long pages = hello.pages();
        byte[] buf = new byte[pageSize];
        for (;;) {
            int type = readType(in, "receiving the precopy");
            switch (type) {
                case PAGES -> {
                    int n = readBatchCount(in);
                    for (int i = 0; i < n; i++) {
                        int p = readPageNumber(in, pages, "PAGES");
                        long off = (long) p * pageSize;
                        if (!readPageData(in, buf, "PAGES")) {
                            MemorySegment.copy(buf, 0, memory, java.lang.foreign.ValueLayout.JAVA_BYTE, off, pageSize);
                            written.set(p);
                        } else if (written.get(p)) {
                            Memory.dontNeed(memory.address() + off, pageSize); // zeros now: untouched memory reads zero
                            written.clear(p);
                        }
                    }
                }
                case SWITCHOVER -> {
                    BitSet stale = readBitSet(in, pages);
                    BitSet drop = (BitSet) stale.clone();
                    drop.and(written);
                    for (int p = drop.nextSetBit(0); p >= 0; ) {   // one madvise per run of stale pages held
                        int q = drop.nextClearBit(p);
                        Memory.dontNeed(memory.address() + (long) p * pageSize, (long) (q - p) * pageSize);
                        p = drop.nextSetBit(q);
                    }
                    written.andNot(stale);
                    return stale;
                }
                default -> throw new MigrationException("malformed frame before the switchover: type " + type);
            }
        }
    }

    static void closeQuietly(Socket s) {
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing after a failure: the failure is what is reported
            }
        }
    }
}
