package io.github.uffd4j.pager;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.Pidfd;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.UffdException;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.handler.Region;
import io.github.uffd4j.snapshot.RegionSnapshots;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One app served by the {@link Pager}: its userfaultfd, served by a {@link FaultService} of its
 * own, its regions and their sources, its connection, and its journal entry (so that a
 * replacement pager can take over). Made in one of two ways:
 * <ul>
 *   <li>{@link #connected}: the app connected and sent HELLO with its descriptor;</li>
 *   <li>{@link #recover}: a replacement pager took the descriptor from the app with
 *       {@code pidfd_getfd}, as the journal describes it, and woke the app's waiting threads; the
 *       session waits for the app to reconnect (RESUME) or to exit.</li>
 * </ul>
 * Its thread answers ADD / REMOVE / BYE until the app says goodbye or goes away. A message it
 * does not understand ends the connection with an error reply; nothing the app sends can harm
 * the pager or its other apps. {@link #close()} may come from any thread.
 */
final class PagerSession implements Runnable {

    private static final System.Logger LOG = System.getLogger(Pager.class.getName());
    private static final Duration POLL = Duration.ofMillis(200);
    private static final int OWN_UID = uidOf(ProcessHandle.current().pid());
    /** The source of a region no pager can serve any more: every page it is asked for is poisoned. */
    private static final PageSource ABANDONED = (offset, destination) -> {
        throw new PagerException("the pager died and its restarts are used up: this page was never loaded");
    };

    private final Pager.Settings settings;
    private final Consumer<PagerSession> onEnd;
    private final Pidfd app;
    private final FaultService service;
    private final Map<Long, Served> regions = new LinkedHashMap<>();
    private final String peer;
    private volatile UnixSocket socket;
    private volatile boolean closing;
    private PagerJournal.Entry entry;

    /**
     * A region served: what the app asked for, the runtime's region, its source, (shared memory)
     * the pager's own mapping, and its snapshots (copy before write in the region's write hook).
     */
    private record Served(PagerProtocol.Add add, Region region, PageSource source, Mapping alias, RegionSnapshots snapshots) {
    }

    private PagerSession(Pager.Settings settings, Consumer<PagerSession> onEnd, Pidfd app, FaultService service, PagerJournal.Entry entry,
                         UnixSocket socket) {
        this.settings = settings;
        this.onEnd = onEnd;
        this.app = app;
        this.service = service;
        this.entry = entry;
        this.socket = socket;
        this.peer = "pid " + entry.pid() + " (uid " + entry.uid() + ")";
    }

    /**
     * An app that connected and sent HELLO with its userfaultfd (taken from {@code hello}). The
     * peer's uid was checked before; its pid comes from the kernel (SO_PEERCRED / SO_PEERPIDFD).
     */
    static PagerSession connected(Pager.Settings settings, Consumer<PagerSession> onEnd, UnixSocket socket, UnixSocket.PeerCredentials who,
                                  PagerProtocol.Hello hello, int uffdFd) {
        Pidfd app = null;
        Userfaultfd uffd = null;
        try {
            app = Pidfd.ofPeer(socket);
            uffd = Userfaultfd.adopt(uffdFd, Feature.fromMask(hello.features()), false);
            uffdFd = -1;
            FaultService service = settings.service(uffd);
            PagerJournal.Entry entry = new PagerJournal.Entry(who.pid(), Pidfd.startTime(who.pid()), who.uid(), hello.appFd(),
                    hello.features(), List.of());
            PagerSession s = new PagerSession(settings, onEnd, app, service, entry, socket);
            s.journal();
            return s;
        } catch (RuntimeException | Error e) {
            if (uffdFd >= 0) {
                UnixSocket.closeDescriptor(uffdFd);
            }
            if (uffd != null) {
                uffd.close();
            }
            if (app != null) {
                app.close();
            }
            throw e;
        }
    }

    /**
     * Takes over an app whose pager died, from its journal entry: checks that the process is the
     * one recorded (pid and start time) and still runs as an allowed uid, takes its userfaultfd
     * with {@code pidfd_getfd}, serves its regions and wakes every thread that waits in them (they
     * fault again and the new service answers). With {@code poison}, instead poisons every page
     * not loaded and stops serving (the restart budget is used up: the app's threads get errors,
     * never zeros or a frozen JVM) and returns null. Returns null too when the app is gone.
     */
    static PagerSession recover(Pager.Settings settings, Consumer<PagerSession> onEnd, PagerJournal.Entry e, boolean poison) {
        String who = "pid " + e.pid();
        Pidfd app;
        try {
            app = Pidfd.open(e.pid());
        } catch (UffdException gone) {
            LOG.log(System.Logger.Level.INFO, "uffd4j pager: app " + who + " is gone; nothing to recover");
            return null;
        }
        FaultService service = null;
        try {
            if (Pidfd.startTime(e.pid()) != e.startTime()) {
                LOG.log(System.Logger.Level.INFO, "uffd4j pager: app " + who + " is gone (its pid now names another process)");
                app.close();
                return null;
            }
            int uid = uidOf(e.pid());
            if (uid != e.uid() || !settings.allowedUids().contains(uid)) {
                throw new PagerException("app " + who + " now runs as uid " + uid + " (recorded " + e.uid() + ", allowed "
                        + settings.allowedUids() + "): not taking its descriptor");
            }
            int fd = take(app, e.appFd(), "anon_inode:[userfaultfd]", "userfaultfd");
            Userfaultfd uffd;
            try {
                uffd = Userfaultfd.adopt(fd, Feature.fromMask(e.features()), false);
            } catch (RuntimeException x) {
                UnixSocket.closeDescriptor(fd);
                throw x;
            }
            service = poison ? settings.poisoningService(uffd) : settings.service(uffd);
            PagerSession s = new PagerSession(settings, onEnd, app, service, e.withRegions(List.of()), null);
            for (PagerProtocol.Add a : e.regions()) {
                int memfd = a.region().backing().isShared() ? take(app, a.appMemfd(), "/memfd:", "memfd") : -1;
                s.serve(a, poison ? ABANDONED : Sources.open(a.region().source(), a.region().length()), memfd, true);
            }
            for (PagerProtocol.Add a : e.regions()) {
                uffd.wake(a.region().address(), a.region().length());
            }
            if (poison) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j pager: app " + who + ": poisoning the pages not loaded ("
                        + e.regions().size() + " regions): its threads get errors when they touch them");
                s.end();
                return null;
            }
            LOG.log(System.Logger.Level.INFO, "uffd4j pager: took over app " + who + " (" + e.regions().size()
                    + " regions); waiting for it to reconnect");
            return s;
        } catch (RuntimeException | Error x) {
            if (service != null) {
                service.close();
            }
            app.close();
            throw x;
        }
    }

    /**
     * A copy of the app's descriptor {@code appFd} (pidfd_getfd), checked to be what the journal
     * says it is: its /proc link starts with {@code linkPrefix} ("anon_inode:[userfaultfd]",
     * "/memfd:"). A number the app reused for another file is refused, never served.
     */
    private static int take(Pidfd app, int appFd, String linkPrefix, String what) {
        int fd = app.takeDescriptor(appFd);
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
            if (!link.startsWith(linkPrefix)) {
                throw new PagerException("descriptor " + appFd + " of app pid " + app.pid() + " is " + link + ", not its " + what);
            }
            return fd;
        } catch (IOException | RuntimeException x) {
            UnixSocket.closeDescriptor(fd);
            throw x instanceof IOException io ? new PagerException("cannot inspect descriptor " + fd + ": " + io, io)
                    : (RuntimeException) x;
        }
    }

    private static int uidOf(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("Uid:")) {
                    return Integer.parseInt(line.substring(4).trim().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException gone) {
            // fall through
        }
        throw new PagerException("cannot read the uid of pid " + pid);
    }

    long pid() {
        return entry.pid();
    }

    /** Hands a reconnected app's socket (RESUME) to this recovered session. */
    synchronized boolean attach(UnixSocket s) {
        if (socket != null || closing) {
            return false;
        }
        socket = s;
        notifyAll();
        return true;
    }

    @Override
    public void run() {
        try {
            if (awaitConnection()) {
                reply(true, "serving (pager pid " + ProcessHandle.current().pid() + ")");
                serve();
            }
        } catch (UffdClosedException e) {
            // closed by the pager
        } catch (PagerException | IllegalArgumentException | IllegalStateException | UnsupportedOperationException
                 | UffdException e) {
            LOG.log(System.Logger.Level.WARNING, "uffd4j pager: ending the connection of " + peer + ": " + e.getMessage());
            replyQuietly(false, e.getMessage());
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "uffd4j pager: the connection of " + peer + " failed", e);
            replyQuietly(false, "the pager failed: " + e);
        } finally {
            end();
        }
    }

    /** A recovered session waits for the app to reconnect; false when the app exited or the pager closes. */
    private synchronized boolean awaitConnection() {
        while (socket == null) {
            if (closing || app.hasExited()) {
                if (!closing) {
                    LOG.log(System.Logger.Level.INFO, "uffd4j pager: app " + peer + " exited before reconnecting");
                }
                return false;
            }
            try {
                wait(POLL.toMillis());
            } catch (InterruptedException e) {
                return false;
            }
        }
        return true;
    }

    private void serve() {
        while (!closing) {
            try (UnixSocket.Message m = socket.receive(Duration.ofSeconds(1))) {
                if (m == null) {
                    continue;
                }
                if (m.isEndOfStream()) {
                    LOG.log(System.Logger.Level.INFO, "uffd4j pager: " + peer + " went away");
                    return;
                }
                PagerProtocol.Message request = PagerProtocol.decode(m.data());
                boolean shared = request instanceof PagerProtocol.Add a && a.region().backing().isShared();
                if (m.fdCount() != (shared ? 1 : 0)) {
                    throw new PagerException(shared ? "ADD of shared memory must carry its memfd, and only it"
                            : "only HELLO and ADD of shared memory carry a descriptor");
                }
                switch (request) {
                    case PagerProtocol.Add a -> add(a, shared ? m.takeFd(0) : -1);
                    case PagerProtocol.Remove r -> remove(r.address());
                    case PagerProtocol.Stats st -> socket.send(PagerProtocol.encode(new PagerProtocol.StatsReply(service.stats())));
                    case PagerProtocol.Snapshot sn -> snapshot(sn);
                    case PagerProtocol.SnapshotStatus st -> snapshotStatus(st.address());
                    case PagerProtocol.Bye b -> {
                        reply(true, "bye");
                        return;
                    }
                    default -> throw new PagerException("unexpected message after HELLO");
                }
            }
        }
    }

    private void add(PagerProtocol.Add a, int memfd) {
        RegionSpec spec = a.region();
        String refusal = null;
        synchronized (this) {
            if (regions.containsKey(spec.address())) {
                if (memfd >= 0) {
                    UnixSocket.closeDescriptor(memfd);
                }
                throw new PagerException("a region at 0x" + Long.toHexString(spec.address()) + " is served already");
            }
            try {
                PageSource source;
                try {
                    source = Sources.open(spec.source(), spec.length());
                } catch (RuntimeException e) {
                    if (memfd >= 0) {
                        UnixSocket.closeDescriptor(memfd);
                    }
                    throw e;
                }
                serve(a, source, memfd, false);
                journal();
            } catch (PagerException | UffdException | IllegalArgumentException e) {
                refusal = e.getMessage(); // the app's request fails; the connection stays
            }
        }
        reply(refusal == null, refusal == null ? "added" : refusal);
    }

    /**
     * Serves the region from {@code source}; shared memory through a mapping of its {@code memfd}
     * (closed here once mapped). When {@code takingOver} shared memory from a pager that died, the
     * pages already in its page cache hold the data (loaded, perhaps written by the app since): they
     * are marked present, never loaded again. On failure closes what it was given.
     */
    private synchronized void serve(PagerProtocol.Add a, PageSource source, int memfd, boolean takingOver) {
        RegionSpec spec = a.region();
        Mapping alias = null;
        try {
            if (memfd >= 0) {
                try {
                    alias = Memory.mapShared(memfd, spec.length(), spec.pageSize());
                } finally {
                    UnixSocket.closeDescriptor(memfd);
                }
            }
            Mapping shared = alias;
            RegionSnapshots snapshots = new RegionSnapshots(source, shared != null
                    ? (offset, dst) -> MemorySegment.copy(shared.segment(), offset, dst, 0, dst.byteSize())
                    : (offset, dst) -> app.readMemory(spec.address() + offset, dst));
            var b = service.region(Memory.segmentAt(spec.address(), spec.length())).pageSize(spec.pageSize())
                    .source(source).name(spec.name()).writeProtect(snapshots);
            if (alias != null) {
                b.alias(alias.segment());
                if (takingOver) {
                    b.presentPages(alias.residentPages());
                }
            }
            regions.put(spec.address(), new Served(a, b.register(), source, alias, snapshots));
        } catch (RuntimeException | Error e) {
            closeSource(source);
            if (alias != null) {
                alias.close();
            }
            throw e;
        }
    }

    private void remove(long address) {
        Served s;
        synchronized (this) {
            s = regions.remove(address);
            if (s != null) {
                journal();
            }
        }
        if (s == null) {
            reply(false, "no region at 0x" + Long.toHexString(address));
            return;
        }
        s.snapshots().close();
        service.unregister(s.region());
        closeSource(s.source());
        if (s.alias() != null) {
            s.alias().close();
        }
        reply(true, "removed");
    }

    /**
     * SNAPSHOT: the app holds the region's writers still until this answers. Notes the pages
     * present, write-protects the region and answers; the pages are saved in the background into
     * the file the app named (written by this process: it must be able to create it).
     */
    private void snapshot(PagerProtocol.Snapshot request) {
        Served s;
        synchronized (this) {
            s = regions.get(request.address());
        }
        String refusal;
        if (s == null) {
            refusal = "no region at 0x" + Long.toHexString(request.address());
        } else if (request.file().isEmpty() || !Path.of(request.file()).isAbsolute()) {
            refusal = "a snapshot file must be an absolute path, not '" + request.file() + "'";
        } else if (entry.uid() != OWN_UID) {
            // the file is created (and a file of that name replaced) with this process's rights, not the app's
            refusal = "this pager runs as uid " + OWN_UID + " and writes snapshot files only for apps of its own uid (the app"
                    + " runs as uid " + entry.uid() + "): start a pager as that user, or PagedMemory.launch() one";
        } else {
            try {
                s.snapshots().snapshot(s.region(), Path.of(request.file()));
                snapshotStatus(request.address());
                return;
            } catch (IOException e) {
                refusal = "cannot create the snapshot file " + request.file() + " (the pager, pid " + ProcessHandle.current().pid()
                        + ", writes it): " + e;
            } catch (RuntimeException e) {
                refusal = "snapshot of " + s.region() + " refused: " + e.getMessage();
            }
        }
        reply(false, refusal);
    }

    /** SNAPSHOT_STATUS: how far the region's latest snapshot got. */
    private void snapshotStatus(long address) {
        Served s;
        synchronized (this) {
            s = regions.get(address);
        }
        io.github.uffd4j.snapshot.Snapshot snap = s == null ? null : s.snapshots().latest();
        if (snap == null) {
            reply(false, s == null ? "no region at 0x" + Long.toHexString(address) : "no snapshot of " + s.region() + " was taken");
            return;
        }
        io.github.uffd4j.snapshot.Snapshot.Progress p = snap.progress();
        String failure = "";
        if (p.done() && snap.completion().isCompletedExceptionally()) {
            failure = String.valueOf(snap.completion().exceptionNow().getMessage());
        }
        socket.send(PagerProtocol.encode(new PagerProtocol.SnapshotReply(snap.pause().toNanos(), p.pages(), p.savedInBackground(),
                p.savedBeforeWrite(), p.zeroPagesLeftOut(), p.bytesWritten(), p.done(), failure)));
    }

    /** Records the app and its regions for a replacement pager (if the pager keeps a journal). */
    private synchronized void journal() {
        List<PagerProtocol.Add> specs = new ArrayList<>();
        regions.values().forEach(r -> specs.add(r.add()));
        entry = entry.withRegions(specs);
        if (settings.journal() != null) {
            settings.journal().write(entry);
        }
    }

    private void reply(boolean ok, String text) {
        socket.send(PagerProtocol.encode(new PagerProtocol.Reply(ok, text == null ? "" : text)));
    }

    private void replyQuietly(boolean ok, String text) {
        try {
            if (socket != null) {
                reply(ok, text);
            }
        } catch (RuntimeException gone) {
            // the app is gone: nobody to tell
        }
    }

    /**
     * The service ends: pages never loaded are poisoned and the ranges unregistered (the
     * FaultService's close), the sources closed, the journal entry deleted (nothing is left to
     * take over), the connection closed.
     */
    private void end() {
        service.close();
        synchronized (this) {
            for (Served r : regions.values()) {
                r.snapshots().close();
                closeSource(r.source());
                if (r.alias() != null) {
                    r.alias().close();
                }
            }
            regions.clear();
            closing = true;
        }
        if (settings.journal() != null) {
            settings.journal().delete(entry.pid());
        }
        app.close();
        UnixSocket s = socket;
        if (s != null) {
            s.close();
        }
        onEnd.accept(this);
    }

    private static void closeSource(PageSource source) {
        if (source instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j pager: closing a page source failed", e);
            }
        }
    }

    /** Ends the connection (from the pager's close). */
    void close() {
        synchronized (this) {
            closing = true;
            notifyAll();
        }
        UnixSocket s = socket;
        if (s != null) {
            s.close();
        }
    }

    @Override
    public String toString() {
        return "PagerSession[" + peer + ", " + regions.size() + " regions]";
    }
}
