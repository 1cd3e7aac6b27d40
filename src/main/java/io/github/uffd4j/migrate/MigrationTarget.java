package io.github.uffd4j.migrate;

import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.MadviseBatch;
import io.github.uffd4j.Memory;
import io.github.uffd4j.source.Compression;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
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
 * <p><b>Which code may touch the memory when.</b> The memory is served by a
 * {@link io.github.uffd4j.handler.FaultService} in this JVM until every page arrived. Until then:
 * native code and system calls may touch any page at any time (a page not arrived is asked for
 * and the call waits for it); plain Java loads and stores may touch only pages made present
 * first with {@link MigratedMemory#load} (it faults them in from native code), because a Java
 * access that faulted on a page this JVM serves itself can freeze the JVM at the next safepoint.
 * After {@link MigratedMemory#awaitComplete} returned the memory is plain memory for all code.
 * Plain Java code touching arbitrary pages during the postcopy needs the faults served by
 * another process (the pager's process model, {@link io.github.uffd4j.pager.PagedMemory}), which
 * a migration target does not offer yet.
 *
 * <p><b>Memory.</b> {@link Options#backing} chooses what the memory is: anonymous (the default),
 * shared memory (a memfd on shmem, served in MINOR mode: pages pushed or asked for are written
 * into the page cache through a second mapping and mapped with UFFDIO_CONTINUE), or hugetlb
 * memory, private or shared. Pages travel in the source's page size: a hugetlb target takes only a
 * source sending its huge page size (hugetlb memory migrated with
 * {@link MigrationSource#migrate(MemorySegment, long, java.net.InetSocketAddress, MigrationSource.Writers, MigrationSource.Options)}),
 * a target in base pages only base pages; huge pages are not assembled from small ones. A
 * mismatch is refused after the hellos, before anything is mapped, on both sides.
 *
 * <p>If the source goes away before the switchover, {@link #receive} throws and nothing was
 * started here. After it, pages that never arrived fail when touched (a
 * {@link io.github.uffd4j.handler.PageLoadException}), never reading as zeros.
 */
public final class MigrationTarget {

    /**
     * What memory the target maps and receives into.
     *
     * @param kind          the kind of memory
     * @param hugePageSize  the huge page size for {@link Kind#HUGETLB} and {@link Kind#SHARED_HUGETLB},
     *                      null for the others
     */
    public record Backing(Kind kind, HugePageSize hugePageSize) {

        /** The kinds of memory a target can receive into. */
        public enum Kind {
            /** Private anonymous memory in base pages, filled with UFFDIO_COPY. */
            ANONYMOUS,
            /**
             * Shared memory on shmem (a memfd), in base pages, served in MINOR mode: each page is
             * written into the page cache through an alias mapping, then mapped with UFFDIO_CONTINUE;
             * the memfd can be handed to another process ({@link MigratedMemory#sharedMemory}).
             */
            SHMEM,
            /** Private hugetlb memory, filled with UFFDIO_COPY a huge page at a time; the source must send huge pages. */
            HUGETLB,
            /** Shared memory on hugetlbfs (a memfd), served like {@link #SHMEM} a huge page at a time; the source must send huge pages. */
            SHARED_HUGETLB
        }

        /** Anonymous memory in base pages (the default). */
        public static final Backing ANONYMOUS = new Backing(Kind.ANONYMOUS, null);
        /** Shared memory on shmem in base pages, served in MINOR mode. */
        public static final Backing SHMEM = new Backing(Kind.SHMEM, null);

        /** Checks that exactly the hugetlb kinds have a huge page size. */
        public Backing {
            Objects.requireNonNull(kind, "kind");
            boolean huge = kind == Kind.HUGETLB || kind == Kind.SHARED_HUGETLB;
            if (huge != (hugePageSize != null)) {
                throw new IllegalArgumentException(kind + (huge ? " needs a huge page size" : " takes no huge page size"));
            }
        }

        /**
         * Private hugetlb memory in pages of {@code size}.
         *
         * @param size the huge page size
         * @return the backing
         */
        public static Backing hugetlb(HugePageSize size) {
            return new Backing(Kind.HUGETLB, Objects.requireNonNull(size, "size"));
        }

        /**
         * Shared hugetlbfs memory (a memfd) in pages of {@code size}, served in MINOR mode.
         *
         * @param size the huge page size
         * @return the backing
         */
        public static Backing sharedHugetlb(HugePageSize size) {
            return new Backing(Kind.SHARED_HUGETLB, Objects.requireNonNull(size, "size"));
        }

        /**
         * The page size of the memory, which must be the source's: the huge page size, or the
         * system's page size.
         *
         * @return the page size in bytes
         */
        public long pageSize() {
            return hugePageSize != null ? hugePageSize.bytes() : Memory.pageSize();
        }

        /**
         * Whether the memory is shared (a memfd, served in MINOR mode).
         *
         * @return true for {@link Kind#SHMEM} and {@link Kind#SHARED_HUGETLB}
         */
        public boolean isShared() {
            return kind == Kind.SHMEM || kind == Kind.SHARED_HUGETLB;
        }

        @Override
        public String toString() {
            return hugePageSize == null ? kind.toString() : kind + " (" + (hugePageSize.bytes() >> 20) + " MiB pages)";
        }
    }

    /**
     * Settings.
     *
     * @param timeout for the source's connections and for each page asked for
     * @param threads handler threads serving faults after the switchover
     * @param backing the memory to receive into
     * @param pushPriority how the postcopy push is received and installed beside the pages faults
     *                     ask for ({@link PushPriority#LOW}, the default)
     */
    public record Options(Duration timeout, int threads, Backing backing, PushPriority pushPriority) {

        /** 60 s, 2 threads, anonymous memory, the push {@link PushPriority#LOW}. */
        public static final Options DEFAULT = new Options(Duration.ofSeconds(60), 2);

        /** Checks that nothing is null and there is at least one thread. */
        public Options {
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(backing, "backing");
            Objects.requireNonNull(pushPriority, "pushPriority");
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1: " + threads);
            }
        }

        /**
         * Anonymous memory, with this timeout and these threads, the push {@link PushPriority#LOW}.
         *
         * @param timeout for the source's connections and for each page asked for
         * @param threads handler threads serving faults after the switchover
         */
        public Options(Duration timeout, int threads) {
            this(timeout, threads, Backing.ANONYMOUS, PushPriority.LOW);
        }

        /**
         * Memory of {@code backing}, with this timeout and these threads, the push {@link PushPriority#LOW}.
         *
         * @param timeout for the source's connections and for each page asked for
         * @param threads handler threads serving faults after the switchover
         * @param backing the memory to receive into
         */
        public Options(Duration timeout, int threads, Backing backing) {
            this(timeout, threads, backing, PushPriority.LOW);
        }

        /**
         * These options receiving into {@code backing}.
         *
         * @param backing the memory to receive into
         * @return the new options
         */
        public Options withBacking(Backing backing) {
            return new Options(timeout, threads, backing, pushPriority);
        }

        /**
         * These options with the postcopy push received and installed at {@code priority}.
         *
         * @param priority how the push gives way to the pages faults ask for
         * @return the new options
         */
        public Options withPushPriority(PushPriority priority) {
            return new Options(timeout, threads, backing, priority);
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
     * @param options timeout, handler threads, memory and the push's priority
     * @return the memory, live, owned by the caller (close it)
     * @throws MigrationException the source went away or misbehaved before the switchover
     */
    public static MigratedMemory receive(ServerSocket server, Options options) throws MigrationException {
        Objects.requireNonNull(server, "server");
        Objects.requireNonNull(options, "options");
        int timeout = (int) Math.min(Integer.MAX_VALUE, options.timeout().toMillis());
        Socket bulk = null;
        Socket urgent = null;
        TargetMemory memory = null;
        io.github.uffd4j.handler.FaultService service = null;
        PostcopyRehearsal rehearsal = null;
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
            String refusal = pageSizeMismatch(hello.pageSize(), options.backing());
            if (refusal == null) {
                refusal = missingCodec(hello.compression());
            }
            if (refusal != null) {
                refuse(urgent, refusal);
                throw new MigrationException("refused: " + refusal);
            }
            memory = TargetMemory.map(options.backing(), hello.size());
            // the switchover drops stale pages: the first drop in a JVM links its native calls and opens the pidfd
            // the batches use (ms), so do that now, on a page nothing was written to yet
            try (MadviseBatch firstDrop = memory.dropBatch()) {
                firstDrop.add(0, hello.pageSize());
            }
            service = MigratedMemory.newService(hello.pageSize(), options);
            rehearsal = PostcopyRehearsal.start(service, options);
            BitSet written = new BitSet();
            BitSet stale = precopy(bulkIn, memory, hello, written, rehearsal);
            rehearsal.stop();
            rehearsal = null;
            MigratedMemory m = MigratedMemory.start("migrated", memory, service, hello, written, stale, bulk, bulkIn, urgent, options);
            memory = null;
            service = null;
            return m;
        } catch (IOException | RuntimeException | Error e) {
            closeQuietly(bulk);
            closeQuietly(urgent);
            if (rehearsal != null) {
                rehearsal.stop();
            }
            if (service != null) {
                service.close();
            }
            if (memory != null) {
                memory.close();
            }
            if (e instanceof Error error) {
                throw error;
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
    private static BitSet precopy(DataInputStream in, TargetMemory target, Hello hello, BitSet written,
                                  PostcopyRehearsal rehearsal) throws IOException {
        MemorySegment memory = target.segment();
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
                        if (!readPageData(in, buf, "PAGES", hello.compression())) {
                            MemorySegment.copy(buf, 0, memory, java.lang.foreign.ValueLayout.JAVA_BYTE, off, pageSize);
                            written.set(p);
                        } else if (written.get(p)) {
                            target.drop(off, pageSize); // zeros now: untouched memory reads zero
                            written.clear(p);
                        }
                    }
                }
                case SWITCHOVER -> {
                    rehearsal.requestStop(); // the rehearsal's CPU goes to the switchover from here
                    BitSet stale = readBitSet(in, pages);
                    // the runs of stale pages held here dropped in batches (one madvise each cost ~4 us of TLB
                    // shootdown, which 600,000 stale pages after a heavily written precopy made 0.6 s of downtime);
                    // walked bit by bit over the stale pages only: whole-set operations on a million pages, run
                    // once and interpreted, cost milliseconds of downtime
                    try (MadviseBatch drops = target.dropBatch()) {
                        for (int p = stale.nextSetBit(0); p >= 0; ) {
                            int q = p;
                            while (q < pages && stale.get(q) && written.get(q)) {
                                written.clear(q);
                                q++;
                            }
                            if (q > p) {
                                drops.add((long) p * pageSize, (long) (q - p) * pageSize);
                            }
                            p = stale.nextSetBit(Math.max(q, p + 1));
                        }
                    }
                    return stale;
                }
                default -> throw new MigrationException("malformed frame before the switchover: type " + type);
            }
        }
    }

    /** Why this JVM cannot decode pages compressed with {@code c} (its library is missing), or null when it can. */
    static String missingCodec(Compression c) {
        try {
            io.github.uffd4j.internal.Codecs.decoder(c, (message, cause) -> new IllegalStateException(message, cause));
            return null;
        } catch (IllegalStateException missing) {
            return "the source compresses its pages with " + c + ", which this target cannot decode: " + missing.getMessage();
        }
    }

    /** Why a target of {@code backing} cannot take pages of {@code pageSize} bytes, or null when it can. */
    static String pageSizeMismatch(int pageSize, Backing backing) {
        if (pageSize == backing.pageSize()) {
            return null;
        }
        if (backing.hugePageSize() != null) {
            return "a " + backing + " target needs a source sending " + backing.pageSize() + "-byte pages (hugetlb memory "
                    + "of that page size, migrated with MigrationSource.migrate(memory, pageSize, ...)); this source sends "
                    + pageSize + "-byte pages";
        }
        HugePageSize huge = HugePageSize.ofBytes(pageSize);
        return "the source sends " + pageSize + "-byte pages; a " + backing + " target takes " + backing.pageSize()
                + "-byte pages" + (huge != null ? " (receive huge pages with Backing.hugetlb(HugePageSize." + huge.name()
                + ") or Backing.sharedHugetlb)" : "");
    }

    /** Tells the source why the migration is refused (REFUSED on the urgent connection); best effort, the caller closes. */
    private static void refuse(Socket urgent, String why) {
        try {
            DataOutputStream out = new DataOutputStream(urgent.getOutputStream());
            out.writeByte(REFUSED);
            out.writeUTF(why);
            out.flush();
        } catch (IOException ignored) {
            // the source learns of it from the closed connections instead
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
