package io.github.uffd4j.pager;

import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.UnixSocket;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The pager: serves the page faults of other processes ("apps") that hand it their userfaultfd
 * over a unix socket, so that the apps' own Java code can touch their lazily paged memory (see
 * {@link PagedMemory}). Each connection is one app with one {@link io.github.uffd4j.handler.FaultService}
 * of its own; apps never see each other, and a broken or hostile one only loses its own
 * connection. The pager needs no userfaultfd privilege: it only uses descriptors it is given.
 *
 * <p>Security: the socket lives in a directory only its owner may enter (created 0700; an
 * existing one with looser permissions is refused), and a peer whose uid (from the kernel,
 * SO_PEERCRED, never from a message) is not allowed is refused before any descriptor is taken.
 * By default only this process's uid is allowed.
 *
 * <p>Run one with {@code scripts/pager} ({@link PagerMain}) or embed it. Thread safe.
 */
public final class Pager implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(Pager.class.getName());

    private final Path socketPath;
    private final Set<Integer> allowedUids;
    private final int threads;
    private final UnixSocket.Listener listener;
    private final Set<PagerSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger served = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    private Pager(Builder b) {
        this.socketPath = b.socket.toAbsolutePath();
        this.allowedUids = Set.copyOf(b.allowedUids.isEmpty() ? Set.of(UnixSocket.currentUid()) : b.allowedUids);
        this.threads = b.threads;
        privateDirectory(socketPath.getParent());
        this.listener = UnixSocket.listen(socketPath);
        this.acceptor = Thread.ofPlatform().name("uffd4j-pager-accept").daemon(false).unstarted(this::acceptLoop);
        acceptor.start();
        LOG.log(System.Logger.Level.INFO, "uffd4j pager (pid " + ProcessHandle.current().pid() + ") listens on "
                + socketPath + " for uids " + allowedUids);
    }

    /** A builder: {@link Builder#socket} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a {@link Pager}. Not thread safe. */
    public static final class Builder {
        private Path socket;
        private final Set<Integer> allowedUids = new java.util.HashSet<>();
        private int threads = 2;

        private Builder() {
        }

        /** Where to listen; its directory is created 0700 if missing, refused if others may enter it. */
        public Builder socket(Path path) {
            this.socket = Objects.requireNonNull(path, "path");
            return this;
        }

        /** Allows apps running as these uids (default: only this process's uid). */
        public Builder allowUids(int... uids) {
            Arrays.stream(uids).forEach(allowedUids::add);
            return this;
        }

        /** Handler threads per app (default 2). */
        public Builder threads(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("threads must be at least 1, not " + n);
            }
            this.threads = n;
            return this;
        }

        /** Starts listening. */
        public Pager start() {
            if (socket == null) {
                throw new IllegalStateException("Pager: no socket path given");
            }
            return new Pager(this);
        }
    }

    /** Creates {@code dir} 0700 if missing; refuses one that others may write to or enter. */
    private static void privateDirectory(Path dir) {
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                return;
            }
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
            Set<PosixFilePermission> open = EnumSet.of(PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_WRITE,
                    PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
            open.retainAll(p);
            if (!open.isEmpty()) {
                throw new PagerException("the pager's socket directory " + dir + " is " + PosixFilePermissions.toString(p)
                        + ": other users could reach the socket; use a directory only its owner may enter (chmod 700)");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the pager's socket directory " + dir, e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            UnixSocket s;
            try {
                s = listener.accept(Duration.ofSeconds(1));
            } catch (UffdClosedException e) {
                return;
            } catch (RuntimeException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.ERROR, "uffd4j pager: accept failed; going on", e);
                }
                continue;
            }
            if (s == null) {
                continue;
            }
            PagerSession session = new PagerSession(s, allowedUids, threads, sessions::remove);
            sessions.add(session);
            served.incrementAndGet();
            Thread.ofPlatform().name("uffd4j-pager-session-" + served.get()).start(session);
        }
    }

    /** Where the pager listens. */
    public Path socket() {
        return socketPath;
    }

    /** Apps connected now. */
    public int sessions() {
        return sessions.size();
    }

    /** Apps connected since the start. */
    public int sessionsServed() {
        return served.get();
    }

    /**
     * Stops: no new apps; each connected app's service is closed (pages never loaded are
     * poisoned, so its threads get errors rather than zeros or a hang). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.close();
        for (PagerSession s : sessions) {
            s.close();
        }
        try {
            acceptor.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "Pager[" + socketPath + ", " + sessions.size() + " apps]";
    }
}
