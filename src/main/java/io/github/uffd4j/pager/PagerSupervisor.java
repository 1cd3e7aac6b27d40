package io.github.uffd4j.pager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Keeps a pager running for its apps: starts the pager as a child process (never a fork of this
 * JVM: a new JVM through {@link ProcessBuilder}) with a journal, and when it dies starts another
 * that takes the apps over ({@link Pager.Builder#recover}), up to {@code restarts} times. When the
 * restarts are used up it poisons the pages the apps never got ({@link Pager#poisonAbandoned}), so
 * their threads fail loudly rather than wait forever, and exits with status 1. Stopping the
 * supervisor (SIGTERM) stops the pager cleanly. Not thread safe: one {@link #run} per object.
 */
final class PagerSupervisor {

    private static final System.Logger LOG = System.getLogger(Pager.class.getName());

    private final List<String> childCommand;
    private final Path journal;
    private final int restarts;
    private final Set<Integer> allowedUids;
    private volatile Process child;
    private volatile boolean stopping;

    PagerSupervisor(List<String> childCommand, Path journal, int restarts, Set<Integer> allowedUids) {
        this.childCommand = List.copyOf(childCommand);
        this.journal = journal;
        this.restarts = restarts;
        this.allowedUids = Set.copyOf(allowedUids);
    }

    /** Runs until stopped (0) or until the restarts are used up (1). */
    int run() throws InterruptedException {
        Runtime.getRuntime().addShutdownHook(new Thread(this::stop, "uffd4j-pager-supervisor-stop"));
        int used = 0;
        for (;;) {
            Process p;
            try {
                p = new ProcessBuilder(childCommand).inheritIO().start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the pager: " + String.join(" ", childCommand), e);
            }
            child = p;
            System.out.println("supervisor (pid " + ProcessHandle.current().pid() + "): pager pid " + p.pid() + " started");
            System.out.flush();
            int status = p.waitFor();
            if (stopping) {
                return 0;
            }
            if (status == 0) {
                LOG.log(System.Logger.Level.INFO, "uffd4j pager supervisor: the pager stopped cleanly; stopping too");
                return 0;
            }
            used++;
            if (used > restarts) {
                LOG.log(System.Logger.Level.ERROR, "uffd4j pager supervisor: pager pid " + p.pid() + " died (status " + status
                        + ") and its " + restarts + " restarts are used up: poisoning the pages its apps never got");
                int apps = Pager.poisonAbandoned(journal, allowedUids);
                System.out.println("supervisor: restarts used up; poisoned the missing pages of " + apps + " apps");
                System.out.flush();
                return 1;
            }
            LOG.log(System.Logger.Level.WARNING, "uffd4j pager supervisor: pager pid " + p.pid() + " died (status " + status
                    + "); starting a replacement (" + used + " of " + restarts + " restarts)");
            Thread.sleep(Math.min(2000, 100L << Math.min(used, 4)));
        }
    }

    /** Stops the pager (SIGTERM, then SIGKILL after 30 s) and ends {@link #run} with 0. */
    void stop() {
        stopping = true;
        Process p = child;
        if (p != null) {
            p.destroy();
            try {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
