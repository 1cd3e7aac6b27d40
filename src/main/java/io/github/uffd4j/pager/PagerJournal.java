package io.github.uffd4j.pager;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * What a pager's replacement needs to take over its apps without their help: for each app its
 * pid and start time (together they name one process, never a later one that reuses the pid),
 * its uid, the number of its userfaultfd in the app (to take a copy with {@code pidfd_getfd}),
 * the features the descriptor was opened with, and its regions. One small file per app in a
 * private directory, replaced atomically (write, then rename) on every change, so that a pager
 * killed at any instant leaves each file either old or new, never half written.
 *
 * <p>The directory must be private to the pager's user: an entry makes the pager take a
 * descriptor of the named process, so a forged one must be impossible. A file it cannot parse is
 * reported and set aside (renamed {@code .bad}), never half-trusted. Thread safe (each app writes
 * only its own file).
 */
final class PagerJournal {

    private static final System.Logger LOG = System.getLogger(Pager.class.getName());
    private static final String SUFFIX = ".state";

    private final Path dir;

    /** One app's record. */
    record Entry(long pid, long startTime, int uid, int appFd, long features, List<PagerProtocol.Add> regions) {
        Entry {
            regions = List.copyOf(regions);
        }

        Entry withRegions(List<PagerProtocol.Add> r) {
            return new Entry(pid, startTime, uid, appFd, features, r);
        }
    }

    PagerJournal(Path dir) {
        this.dir = dir.toAbsolutePath();
        Pager.privateDirectory(this.dir);
    }

    /** Writes (or replaces) the app's record. */
    void write(Entry e) {
        Properties p = new Properties();
        p.setProperty("pid", Long.toString(e.pid()));
        p.setProperty("startTime", Long.toString(e.startTime()));
        p.setProperty("uid", Integer.toString(e.uid()));
        p.setProperty("appFd", Integer.toString(e.appFd()));
        p.setProperty("features", Long.toString(e.features()));
        p.setProperty("regions", Integer.toString(e.regions().size()));
        for (int i = 0; i < e.regions().size(); i++) {
            RegionSpec r = e.regions().get(i).region();
            p.setProperty("region." + i + ".backing", r.backing().name());
            p.setProperty("region." + i + ".appMemfd", Integer.toString(e.regions().get(i).appMemfd()));
            p.setProperty("region." + i + ".name", r.name());
            p.setProperty("region." + i + ".address", Long.toString(r.address()));
            p.setProperty("region." + i + ".length", Long.toString(r.length()));
            p.setProperty("region." + i + ".pageSize", Long.toString(r.pageSize()));
            p.setProperty("region." + i + ".source", r.source().toString());
        }
        Path target = file(e.pid());
        Path tmp = dir.resolve("app-" + e.pid() + SUFFIX + ".tmp");
        try {
            try (Writer w = Files.newBufferedWriter(tmp)) {
                p.store(w, "uffd4j pager: one app's userfaultfd and regions, for a replacement pager");
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException x) {
            throw new UncheckedIOException("cannot write the pager journal entry " + target, x);
        }
    }

    /** Forgets the app (it said goodbye, went away, or its service ended). */
    void delete(long pid) {
        try {
            Files.deleteIfExists(file(pid));
        } catch (IOException x) {
            LOG.log(System.Logger.Level.WARNING, "uffd4j pager: cannot delete " + file(pid), x);
        }
    }

    /** Every readable record; unreadable ones are logged and renamed {@code .bad}. */
    List<Entry> readAll() {
        List<Entry> entries = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "app-*" + SUFFIX)) {
            for (Path f : files) {
                try {
                    entries.add(read(f));
                } catch (RuntimeException | IOException bad) {
                    LOG.log(System.Logger.Level.ERROR, "uffd4j pager: journal entry " + f + " is unreadable ("
                            + bad.getMessage() + "); set aside as .bad");
                    Files.move(f, f.resolveSibling(f.getFileName() + ".bad"), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException x) {
            throw new UncheckedIOException("cannot read the pager journal in " + dir, x);
        }
        return entries;
    }

    private static Entry read(Path f) throws IOException {
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("not a regular file");
        }
        var perms = Files.getPosixFilePermissions(f, LinkOption.NOFOLLOW_LINKS);
        if (perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new IOException("others may write it");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(f)) {
            p.load(r);
        }
        int n = Integer.parseInt(required(p, "regions"));
        List<PagerProtocol.Add> regions = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String k = "region." + i + ".";
            regions.add(new PagerProtocol.Add(new RegionSpec(required(p, k + "name"), Long.parseLong(required(p, k + "address")),
                    Long.parseLong(required(p, k + "length")), Long.parseLong(required(p, k + "pageSize")),
                    URI.create(required(p, k + "source")), RegionSpec.Backing.valueOf(required(p, k + "backing"))),
                    Integer.parseInt(required(p, k + "appMemfd"))));
        }
        return new Entry(Long.parseLong(required(p, "pid")), Long.parseLong(required(p, "startTime")),
                Integer.parseInt(required(p, "uid")), Integer.parseInt(required(p, "appFd")),
                Long.parseLong(required(p, "features")), regions);
    }

    private static String required(Properties p, String key) {
        String v = p.getProperty(key);
        if (v == null) {
            throw new IllegalArgumentException("no " + key);
        }
        return v;
    }

    private Path file(long pid) {
        return dir.resolve("app-" + pid + SUFFIX);
    }
}
