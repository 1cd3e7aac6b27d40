package io.github.uffd4j.pager;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Memory;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.UnixSocket;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.handler.Region;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One app connected to the {@link Pager}: checks the peer's uid, takes its userfaultfd from the
 * HELLO message, serves it with a {@link FaultService} of its own, and answers ADD / REMOVE / BYE
 * until the app says goodbye or goes away. A message it does not understand ends the connection
 * with an error reply; nothing the app sends can harm the pager or its other apps. Runs on a
 * thread of its own; {@link #close()} may come from any thread.
 */
final class PagerSession implements Runnable {

    private static final System.Logger LOG = System.getLogger(Pager.class.getName());
    private static final Duration HELLO_WAIT = Duration.ofSeconds(10);

    private final UnixSocket socket;
    private final Set<Integer> allowedUids;
    private final int threads;
    private final Consumer<PagerSession> onEnd;
    private final Map<Long, Served> regions = new HashMap<>();
    private volatile FaultService service;
    private volatile boolean closing;
    private String peer = "?";

    private record Served(Region region, PageSource source) {
    }

    PagerSession(UnixSocket socket, Set<Integer> allowedUids, int threads, Consumer<PagerSession> onEnd) {
        this.socket = socket;
        this.allowedUids = allowedUids;
        this.threads = threads;
        this.onEnd = onEnd;
    }

    @Override
    public void run() {
        try {
            UnixSocket.PeerCredentials who = socket.peer();
            peer = "pid " + who.pid() + " (uid " + who.uid() + ")";
            if (!allowedUids.contains(who.uid())) {
                LOG.log(System.Logger.Level.WARNING, "uffd4j pager: refused " + peer + ": uid not allowed " + allowedUids);
                reply(false, "uid " + who.uid() + " may not use this pager (allowed: " + allowedUids + ")");
                return;
            }
            hello();
            serve();
        } catch (UffdClosedException e) {
            // closed by the pager
        } catch (PagerException | IllegalArgumentException | IllegalStateException | UnsupportedOperationException
                 | io.github.uffd4j.UffdException e) {
            LOG.log(System.Logger.Level.WARNING, "uffd4j pager: ending the connection of " + peer + ": " + e.getMessage());
            replyQuietly(false, e.getMessage());
        } catch (RuntimeException | Error e) {
            LOG.log(System.Logger.Level.ERROR, "uffd4j pager: the connection of " + peer + " failed", e);
            replyQuietly(false, "the pager failed: " + e);
        } finally {
            end();
        }
    }

    private void hello() {
        try (UnixSocket.Message m = socket.receive(HELLO_WAIT)) {
            if (m == null) {
                throw new PagerException("no HELLO within " + HELLO_WAIT.toSeconds() + " s");
            }
            if (!(PagerProtocol.decode(m.data()) instanceof PagerProtocol.Hello h)) {
                throw new PagerException("the first message must be HELLO");
            }
            if (m.fdCount() != 1) {
                throw new PagerException("HELLO must carry exactly one descriptor (the userfaultfd), not " + m.fdCount());
            }
            int fd = m.takeFd(0);
            Userfaultfd uffd;
            try {
                uffd = Userfaultfd.adopt(fd, Feature.fromMask(h.features()), false);
            } catch (RuntimeException e) {
                UnixSocket.closeDescriptor(fd);
                throw e;
            }
            service = FaultService.builder().serve(uffd).threads(threads).poisonUnloadedOnClose(true).start();
            LOG.log(System.Logger.Level.INFO, "uffd4j pager: serving " + peer);
            reply(true, "serving (pager pid " + ProcessHandle.current().pid() + ")");
        }
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
                if (m.fdCount() != 0) {
                    throw new PagerException("only HELLO carries a descriptor");
                }
                switch (PagerProtocol.decode(m.data())) {
                    case PagerProtocol.Add a -> add(a.region());
                    case PagerProtocol.Remove r -> remove(r.address());
                    case PagerProtocol.Bye b -> {
                        reply(true, "bye");
                        return;
                    }
                    default -> throw new PagerException("unexpected message after HELLO");
                }
            }
        }
    }

    private void add(RegionSpec spec) {
        if (regions.containsKey(spec.address())) {
            throw new PagerException("a region at 0x" + Long.toHexString(spec.address()) + " is served already");
        }
        PageSource source;
        try {
            source = Sources.open(spec.source(), spec.length());
        } catch (PagerException e) {
            reply(false, e.getMessage()); // the app's request fails; the connection stays
            return;
        }
        Region r = service.region(Memory.segmentAt(spec.address(), spec.length())).pageSize(spec.pageSize())
                .source(source).name(spec.name()).register();
        regions.put(spec.address(), new Served(r, source));
        reply(true, "added " + r);
    }

    private void remove(long address) {
        Served s = regions.remove(address);
        if (s == null) {
            reply(false, "no region at 0x" + Long.toHexString(address));
            return;
        }
        service.unregister(s.region());
        closeSource(s.source());
        reply(true, "removed");
    }

    private void reply(boolean ok, String text) {
        socket.send(PagerProtocol.encode(new PagerProtocol.Reply(ok, text == null ? "" : text)));
    }

    private void replyQuietly(boolean ok, String text) {
        try {
            reply(ok, text);
        } catch (RuntimeException gone) {
            // the app is gone: nobody to tell
        }
    }

    private void end() {
        FaultService s = service;
        if (s != null) {
            s.close();
        }
        for (Served r : regions.values()) {
            closeSource(r.source());
        }
        regions.clear();
        socket.close();
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
        closing = true;
        socket.close();
    }
}
