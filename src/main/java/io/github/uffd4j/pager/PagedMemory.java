package io.github.uffd4j.pager;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The app's side of a {@link Pager}: memory that another process pages in, so that this JVM's
 * own Java code may read and write it freely ({@code MemorySegment.get/set}, JIT-compiled loops,
 * while the GC runs). A fault taken in Java code only waits for the pager; a safepoint waits with
 * it, for as long as the pager takes to serve that page.
 *
 * <pre>{@code
 * try (PagedMemory pager = PagedMemory.connect(Path.of("/run/uffd4j/pager.sock"))) {
 *     PagedMemory.Region r = pager.map("data", 1L << 30, URI.create("file:/data/big.bin"));
 *     long sum = 0;
 *     for (long o = 0; o < r.segment().byteSize(); o += 8) {
 *         sum += r.segment().get(ValueLayout.JAVA_LONG, o);    // plain Java: pages come in on first touch
 *     }
 * }
 * }</pre>
 *
 * <p>This JVM creates the userfaultfd (it needs the privilege: root, CAP_SYS_PTRACE, or access to
 * /dev/userfaultfd), registers its memory, and sends the descriptor to the pager, keeping its own
 * copy. A region is usable once the pager has acknowledged it. If the pager dies, threads that
 * touch pages not yet loaded wait until something outside this JVM serves or poisons them (see
 * the README's pager section): run the pager under a supervisor.
 *
 * <p>Thread safe: requests to the pager are made one at a time.
 */
public final class PagedMemory implements AutoCloseable {

    private static final Duration REPLY_WAIT = Duration.ofSeconds(30);

    private final Userfaultfd uffd;
    private final UnixSocket socket;
    private final List<Region> regions = new CopyOnWriteArrayList<>();
    private final Object requests = new Object();
    private volatile boolean closed;

    private PagedMemory(Userfaultfd uffd, UnixSocket socket) {
        this.uffd = uffd;
        this.socket = socket;
    }

    /** Opens a userfaultfd, connects to the pager listening on {@code socket} and hands it the descriptor. */
    public static PagedMemory connect(Path socket) {
        Objects.requireNonNull(socket, "socket");
        Set<Feature> wanted = EnumSet.of(Feature.THREAD_ID, Feature.EVENT_REMOVE, Feature.EVENT_UNMAP, Feature.EVENT_REMAP,
                Feature.POISON, Feature.MISSING_SHMEM, Feature.MISSING_HUGETLBFS);
        wanted.retainAll(Userfaultfd.kernelFeatures());
        Userfaultfd uffd = Userfaultfd.builder().features(wanted).open();
        UnixSocket s = null;
        try {
            s = UnixSocket.connect(socket);
            PagedMemory m = new PagedMemory(uffd, s);
            m.request(new PagerProtocol.Hello(Feature.toMask(uffd.features())), uffd.fd());
            return m;
        } catch (RuntimeException | Error e) {
            if (s != null) {
                s.close();
            }
            uffd.close();
            throw e;
        }
    }

    /**
     * Maps {@code length} bytes of anonymous memory (rounded up to whole pages) whose pages the
     * pager fills from {@code source} ({@link Sources} lists the URIs it knows) on first touch.
     * Returns once the pager serves the region.
     */
    public Region map(String name, long length, URI source) {
        ensureOpen();
        long page = Memory.pageSize();
        long size = (length + page - 1) & -page;
        Mapping mapping = Memory.anonymous(size);
        try {
            uffd.register(mapping.segment(), RegisterMode.MISSING);
            RegionSpec spec = new RegionSpec(name, mapping.address(), size, page, source);
            request(new PagerProtocol.Add(spec));
            Region r = new Region(this, name, mapping);
            regions.add(r);
            return r;
        } catch (RuntimeException | Error e) {
            release(mapping);
            throw e;
        }
    }

    /** The regions mapped and not closed. */
    public List<Region> regions() {
        return List.copyOf(regions);
    }

    /** Sends one request and waits for its reply; throws {@link PagerException} when refused. */
    private void request(PagerProtocol.Message m, int... fds) {
        String answer;
        synchronized (requests) {
            try {
                socket.send(PagerProtocol.encode(m), fds);
            } catch (UffdException gone) {
                // a pager that refuses us replies and closes before reading: its reason may be waiting
                throw new PagerException(refusal(gone), gone);
            }
            try (UnixSocket.Message reply = socket.receive(REPLY_WAIT)) {
                if (reply == null) {
                    throw new PagerException("the pager did not answer within " + REPLY_WAIT.toSeconds() + " s");
                }
                if (reply.isEndOfStream()) {
                    throw new PagerException("the pager closed the connection");
                }
                if (!(PagerProtocol.decode(reply.data()) instanceof PagerProtocol.Reply r)) {
                    throw new PagerException("the pager sent something other than a reply");
                }
                if (r.ok()) {
                    return;
                }
                answer = r.text();
            }
        }
        throw new PagerException("the pager refused: " + answer);
    }

    /** What to say when a send failed: the pager's last word, if it left one. */
    private String refusal(UffdException sendFailure) {
        try (UnixSocket.Message last = socket.receive(Duration.ofMillis(500))) {
            if (last != null && !last.isEndOfStream() && PagerProtocol.decode(last.data()) instanceof PagerProtocol.Reply r
                    && !r.ok()) {
                return "the pager refused: " + r.text();
            }
        } catch (RuntimeException nothingMore) {
            // no reply to read
        }
        return "the pager closed the connection (" + sendFailure.getMessage() + ")";
    }

    private void remove(Region r) {
        if (!regions.remove(r)) {
            return;
        }
        try {
            if (!closed) {
                request(new PagerProtocol.Remove(r.mapping.address()));
            }
        } finally {
            release(r.mapping);
        }
    }

    /** Unregisters first (a munmap of registered memory would wait for the pager to read the UNMAP event), then unmaps. */
    private void release(Mapping mapping) {
        try {
            uffd.unregister(mapping.segment());
        } catch (RuntimeException alreadyGone) {
            // not registered (any more): nothing to undo
        }
        mapping.close();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("PagedMemory is closed");
        }
    }

    /**
     * Removes every region (the pager stops serving it, then it is unmapped: its segments must
     * not be used afterwards), says goodbye and closes the descriptor. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        List<RuntimeException> errors = new ArrayList<>();
        for (Region r : regions) {
            try {
                remove(r);
            } catch (RuntimeException e) {
                errors.add(e);
            }
        }
        closed = true;
        try {
            request(new PagerProtocol.Bye());
        } catch (RuntimeException e) {
            errors.add(e);
        }
        socket.close();
        uffd.close();
        if (!errors.isEmpty()) {
            PagerException e = new PagerException("closing: " + errors.getFirst().getMessage(), errors.getFirst());
            errors.stream().skip(1).forEach(e::addSuppressed);
            throw e;
        }
    }

    /** One mapped region: its memory, safe for plain Java access while the pager serves it. Thread safe. */
    public static final class Region implements AutoCloseable {
        private final PagedMemory owner;
        private final String name;
        private final Mapping mapping;

        private Region(PagedMemory owner, String name, Mapping mapping) {
            this.owner = owner;
            this.name = name;
            this.mapping = mapping;
        }

        /** The memory: read and write it with plain Java code. Unmapped once the region is closed. */
        public MemorySegment segment() {
            return mapping.segment();
        }

        public String name() {
            return name;
        }

        /** Has the pager stop serving it, then unmaps it. Idempotent. */
        @Override
        public void close() {
            owner.remove(this);
        }

        @Override
        public String toString() {
            return "PagedMemory.Region[" + name + " 0x" + Long.toHexString(mapping.address()) + " +" + mapping.byteSize() + "]";
        }
    }
}
