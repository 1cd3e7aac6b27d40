package io.github.uffd4j.pager;

import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.handler.FailurePolicy;
import io.github.uffd4j.handler.FaultService;

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
import java.util.Map;
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

    private static final Duration HELLO_WAIT = Duration.ofSeconds(10);

    private final Path socketPath;
    private final Settings settings;
    private final UnixSocket.Listener listener;
    private final Set<PagerSession> sessions = ConcurrentHashMap.newKeySet();
    private final Map<Long, PagerSession> recovered = new ConcurrentHashMap<>();
    private final AtomicInteger served = new AtomicInteger();
    private final Thread acceptor;
    private volatile boolean closed;

    private Pager(Builder b) {
        this.socketPath = b.socket.toAbsolutePath();
        this.settings = new Settings(allowedOrOwn(b.allowedUids),
                b.threads, b.faults, b.journal == null ? null : new PagerJournal(b.journal));
        privateDirectory(socketPath.getParent());
        if (b.recover && settings.journal() == null) {
            throw new IllegalStateException("Pager: recover() needs a journal(...) to recover from");
        }
        removeStaleSocket(socketPath);
        this.listener = UnixSocket.listen(socketPath);
        if (b.recover) {
            recoverAll();
        }
        this.acceptor = Thread.ofPlatform().name("uffd4j-pager-accept").daemon(false).unstarted(this::acceptLoop);
        acceptor.start();
        LOG.log(System.Logger.Level.INFO, "uffd4j pager (pid " + ProcessHandle.current().pid() + ") listens on "
                + socketPath + " for uids " + settings.allowedUids());
    }

    /** What every app's session is built with. */
    record Settings(Set<Integer> allowedUids, int threads, FailurePolicy faults, PagerJournal journal) {

        /** The service of one app: a page whose source fails or passes the deadline is poisoned, never left waiting. */
        FaultService service(Userfaultfd uffd) {
            return FaultService.builder().serve(uffd).threads(threads).failurePolicy(faults).poisonUnloadedOnClose(true).start();
        }

        /** A service that loads nothing: every fault is poisoned, and so is every page at its close. */
        FaultService poisoningService(Userfaultfd uffd) {
            return FaultService.builder().serve(uffd).threads(1).backgroundFill(false)
                    .failurePolicy(POISON_ALL).poisonUnloadedOnClose(true).start();
        }
    }

    /** Every page that faults is poisoned at once: what the last resort serves. */
    private static final FailurePolicy POISON_ALL = new FailurePolicy(0, Duration.ofSeconds(1), FailurePolicy.Fallback.ERROR);

    /** The uids a pager serves: those given, or by default only its own. */
    static Set<Integer> allowedOrOwn(Set<Integer> uids) {
        return Set.copyOf(uids.isEmpty() ? Set.of(UnixSocket.currentUid()) : uids);
    }

    /** Takes over the apps of a pager that died (see {@link Builder#recover}). */
    private void recoverAll() {
        for (PagerJournal.Entry e : settings.journal().readAll()) {
            try {
                PagerSession s = PagerSession.recover(settings, this::ended, e, false);
                if (s == null) {
                    settings.journal().delete(e.pid());
                    continue;
                }
                recovered.put(s.pid(), s);
                sessions.add(s);
                Thread.ofPlatform().name("uffd4j-pager-session-" + s.pid()).start(s);
            } catch (RuntimeException | Error x) {
                LOG.log(System.Logger.Level.ERROR, "uffd4j pager: cannot take over app pid " + e.pid()
                        + "; its threads that touch pages not loaded will wait", x);
            }
        }
    }

    /**
     * The last resort when no pager can serve an app any more (a supervisor's restart budget is
     * used up): for every app in the journal at {@code journal}, takes its userfaultfd, poisons
     * every page not loaded (its threads get errors there, never zeros or a frozen JVM), wakes its
     * waiting threads and stops serving it. Returns the number of apps poisoned.
     *
     * @param journal the journal directory of the pager that is gone
     * @param allowedUids the uids whose apps may be taken over
     * @return the number of apps poisoned
     */
    public static int poisonAbandoned(Path journal, Set<Integer> allowedUids) {
        Settings settings = new Settings(Set.copyOf(allowedUids), 1, POISON_ALL, new PagerJournal(journal));
        int n = 0;
        for (PagerJournal.Entry e : settings.journal().readAll()) {
            try {
                PagerSession.recover(settings, ended -> { }, e, true);
                n++;
            } catch (RuntimeException | Error x) {
                LOG.log(System.Logger.Level.ERROR, "uffd4j pager: cannot poison the pages of app pid " + e.pid(), x);
            } finally {
                settings.journal().delete(e.pid());
            }
        }
        return n;
    }

    /**
     * A builder: {@link Builder#socket} is required.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** Settings of a {@link Pager}. Not thread safe. */
    public static final class Builder {
        private Path socket;
        private final Set<Integer> allowedUids = new java.util.HashSet<>();
        private int threads = 2;
        private FailurePolicy faults = new FailurePolicy(0, Duration.ofSeconds(30), FailurePolicy.Fallback.ERROR);
        private Path journal;
        private boolean recover;

        private Builder() {
        }

        /**
         * Where to listen; its directory is created 0700 if missing, refused if others may enter it.
         *
         * @param path the socket file
         * @return this builder
         */
        public Builder socket(Path path) {
            this.socket = Objects.requireNonNull(path, "path");
            return this;
        }

        /**
         * Allows apps running as these uids (default: only this process's uid).
         *
         * @param uids the allowed uids
         * @return this builder
         */
        public Builder allowUids(int... uids) {
            Arrays.stream(uids).forEach(allowedUids::add);
            return this;
        }

        /**
         * Handler threads per app (default 2).
         *
         * @param n the thread count
         * @return this builder
         */
        public Builder threads(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("threads must be at least 1, not " + n);
            }
            this.threads = n;
            return this;
        }

        /**
         * How long a page source may take for one page (default 30 s): past it, the page is
         * poisoned and the app's thread that touched it gets an error instead of waiting on.
         *
         * @param deadline the time a source gets per page
         * @return this builder
         */
        public Builder faultDeadline(Duration deadline) {
            this.faults = new FailurePolicy(0, deadline, FailurePolicy.Fallback.ERROR);
            return this;
        }

        /**
         * Keeps a journal of the apps and their regions in {@code directory} (created 0700), so
         * that a replacement pager started with {@link #recover} can take them over if this one
         * dies. Without one, apps of a pager that died wait until poisoned from outside.
         *
         * @param directory the journal's directory
         * @return this builder
         */
        public Builder journal(Path directory) {
            this.journal = Objects.requireNonNull(directory, "directory");
            return this;
        }

        /**
         * At start, takes over the apps in the journal whose pager died: takes each app's
         * userfaultfd from it ({@code pidfd_getfd}: needs ptrace rights over the app, e.g. the same
         * user, or root), serves its regions, wakes its waiting threads, and lets it reconnect.
         *
         * @param on whether to take over the journal's apps at start
         * @return this builder
         */
        public Builder recover(boolean on) {
            this.recover = on;
            return this;
        }

        /**
         * Starts listening.
         *
         * @return the running pager, owned by the caller (close it)
         */
        public Pager start() {
            if (socket == null) {
                throw new IllegalStateException("Pager: no socket path given");
            }
            return new Pager(this);
        }
    }

    /**
     * Deletes a socket file that nobody listens on (left by a pager that was killed); refuses to
     * start when another pager listens there.
     */
    private static void removeStaleSocket(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (UnixSocket live = UnixSocket.connect(path)) {
            throw new PagerException("another process (pid " + live.peer().pid() + ") listens on " + path
                    + ": stop it first, or use another socket path");
        } catch (io.github.uffd4j.UffdException refused) {
            if (!"ECONNREFUSED".equals(refused.errnoName())) {
                throw refused;
            }
            try {
                Files.delete(path);
                LOG.log(System.Logger.Level.INFO, "uffd4j pager: removed the stale socket file " + path);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot remove the stale socket file " + path, e);
            }
        }
    }

    /** Creates {@code dir} 0700 if missing; refuses one that others may write to or enter. */
    static void privateDirectory(Path dir) {
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
            served.incrementAndGet();
            Thread.ofPlatform().name("uffd4j-pager-connection-" + served.get()).start(() -> connection(s));
        }
    }

    /**
     * A new connection: checks the peer's uid (from the kernel) before anything else, then takes
     * its first message: HELLO starts a session on this thread, RESUME hands the connection to
     * the session this pager recovered for the peer's pid. Anything else is refused.
     */
    private void connection(UnixSocket s) {
        PagerSession session = null;
        boolean handedOver = false;
        String peer = "a new app";
        try {
            UnixSocket.PeerCredentials who = s.peer();
            peer = "pid " + who.pid() + " (uid " + who.uid() + ")";
            if (!settings.allowedUids().contains(who.uid())) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j pager: refused " + peer + ": uid not allowed " + settings.allowedUids());
                throw new PagerException("uid " + who.uid() + " may not use this pager (allowed: " + settings.allowedUids() + ")");
            }
            try (UnixSocket.Message m = s.receive(HELLO_WAIT)) {
                if (m == null || m.isEndOfStream()) {
                    throw new PagerException("no HELLO within " + HELLO_WAIT.toSeconds() + " s");
                }
                switch (PagerProtocol.decode(m.data())) {
                    case PagerProtocol.Hello h -> {
                        if (m.fdCount() != 1) {
                            throw new PagerException("HELLO must carry exactly one descriptor (the userfaultfd), not " + m.fdCount());
                        }
                        session = PagerSession.connected(settings, this::ended, s, who, h, m.takeFd(0));
                        sessions.add(session);
                        handedOver = true;
                    }
                    case PagerProtocol.Resume r -> {
                        PagerSession target = recovered.get((long) who.pid());
                        if (m.fdCount() != 0 || target == null || !target.attach(s)) {
                            throw new PagerException("this pager serves no app with pid " + who.pid() + " to resume");
                        }
                        LOG.log(System.Logger.Level.INFO, "uffd4j pager: " + peer + " reconnected");
                        handedOver = true;
                    }
                    default -> throw new PagerException("the first message must be HELLO (or RESUME)");
                }
            }
        } catch (UffdClosedException e) {
            // the pager closes
        } catch (RuntimeException e) {
            if (!(e instanceof PagerException)) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j pager: connection of " + peer + " refused", e);
            }
            try {
                s.send(PagerProtocol.encode(new PagerProtocol.Reply(false, String.valueOf(e.getMessage()))));
            } catch (RuntimeException gone) {
                // nobody to tell
            }
        } finally {
            if (!handedOver) {
                s.close();
            }
        }
        if (session != null) {
            session.run();
        }
    }


    /** A session ended: forget it. */
    private void ended(PagerSession s) {
        sessions.remove(s);
        recovered.remove(s.pid(), s);
    }

    /**
     * Where the pager listens.
     *
     * @return the socket's path
     */
    public Path socket() {
        return socketPath;
    }

    /**
     * Apps connected now.
     *
     * @return the number of connected apps
     */
    public int sessions() {
        return sessions.size();
    }

    /**
     * Apps connected since the start.
     *
     * @return the number of apps served in all
     */
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
        for (PagerSession s : sessions) { // the recovered ones too: they are sessions as well
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
