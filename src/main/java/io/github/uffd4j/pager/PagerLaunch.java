package io.github.uffd4j.pager;

import io.github.uffd4j.Pidfd;
import io.github.uffd4j.UffdClosedException;
import io.github.uffd4j.UffdException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Runs a pager, with or without a {@link PagerSupervisor}, and builds the command lines of the
 * JVMs that do it: the pager {@code scripts/pager} starts ({@link PagerMain} parses its options
 * and comes here), the pagers a supervisor starts, and the pager a {@link PagedMemory} starts for
 * itself. Those child JVMs run {@link #main}, which reads its settings from system properties
 * ({@code uffd4j.pager.*}): no command-line library is needed in a child, so an app that uses
 * {@link PagedMemory#launch()} needs nothing but this library on its path.
 */
final class PagerLaunch {

    private static final String PREFIX = "uffd4j.pager.";
    /** Separates JVM options inside one property (a tab: never part of an option a user passes). */
    private static final String SEPARATOR = "\t";

    private PagerLaunch() {
    }

    /**
     * What to run. {@code restarts} &ge; 0 runs a supervisor that replaces a dying pager that many
     * times; -1 runs the pager itself. {@code ownerPid}/{@code ownerStart} (0 for none) name the
     * process whose exit stops everything (an app that started its own pager); {@code removeDirectory}
     * then also deletes the socket's directory at the end. {@code pagerJvmOptions} are given to
     * the pagers a supervisor starts.
     */
    record Options(Path socket, Set<Integer> allowUids, int threads, Duration faultDeadline, int restarts, Path journal,
                   boolean recover, long ownerPid, long ownerStart, boolean removeDirectory, List<String> pagerJvmOptions) {

        Options {
            socket = socket.toAbsolutePath();
            allowUids = Set.copyOf(allowUids);
            pagerJvmOptions = List.copyOf(pagerJvmOptions);
            if (journal == null) {
                journal = socket.getParent().resolve("journal");
            }
        }

        /** The settings of the pagers a supervisor starts: no supervisor of their own, taking over the journal's apps. */
        Options supervised() {
            return new Options(socket, allowUids, threads, faultDeadline, -1, journal, true, ownerPid, ownerStart, false,
                    List.of());
        }

        List<String> asProperties() {
            List<String> p = new ArrayList<>();
            p.add("-D" + PREFIX + "socket=" + socket);
            if (!allowUids.isEmpty()) {
                p.add("-D" + PREFIX + "allowUids=" + allowUids.stream().map(String::valueOf).collect(Collectors.joining(",")));
            }
            p.add("-D" + PREFIX + "threads=" + threads);
            p.add("-D" + PREFIX + "faultDeadlineMillis=" + faultDeadline.toMillis());
            p.add("-D" + PREFIX + "restarts=" + restarts);
            p.add("-D" + PREFIX + "journal=" + journal);
            p.add("-D" + PREFIX + "recover=" + recover);
            if (ownerPid > 0) {
                p.add("-D" + PREFIX + "owner=" + ownerPid + ":" + ownerStart);
            }
            p.add("-D" + PREFIX + "removeDirectory=" + removeDirectory);
            if (!pagerJvmOptions.isEmpty()) {
                p.add("-D" + PREFIX + "pagerJvmOptions=" + String.join(SEPARATOR, pagerJvmOptions));
            }
            return p;
        }

        static Options fromProperties() {
            String socket = System.getProperty(PREFIX + "socket");
            if (socket == null) {
                throw new IllegalArgumentException("no -D" + PREFIX + "socket=PATH: this entry point is started by the library "
                        + "(use scripts/pager to run a pager by hand)");
            }
            String uids = System.getProperty(PREFIX + "allowUids", "");
            String owner = System.getProperty(PREFIX + "owner", "0:0");
            String jvm = System.getProperty(PREFIX + "pagerJvmOptions", "");
            String journal = System.getProperty(PREFIX + "journal");
            return new Options(Path.of(socket),
                    uids.isBlank() ? Set.of() : Arrays.stream(uids.split(",")).map(Integer::valueOf).collect(Collectors.toSet()),
                    Integer.getInteger(PREFIX + "threads", 2),
                    Duration.ofMillis(Long.getLong(PREFIX + "faultDeadlineMillis", 30_000)),
                    Integer.getInteger(PREFIX + "restarts", -1),
                    journal == null ? null : Path.of(journal),
                    Boolean.getBoolean(PREFIX + "recover"),
                    Long.parseLong(owner.substring(0, owner.indexOf(':'))),
                    Long.parseLong(owner.substring(owner.indexOf(':') + 1)),
                    Boolean.getBoolean(PREFIX + "removeDirectory"),
                    jvm.isEmpty() ? List.of() : List.of(jvm.split(SEPARATOR)));
        }
    }

    /**
     * The command that runs {@code options} in a new JVM (never a fork of this one): this JVM's
     * java, its module and class path (with the library's optional modules this JVM resolved),
     * native access for the library and for those of them this JVM grants it, then
     * {@code jvmOptions}.
     */
    static List<String> command(Options options, List<String> jvmOptions) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(jvmOptions);
        cmd.addAll(options.asProperties());
        String modulePath = System.getProperty("jdk.module.path");
        Module library = PagerLaunch.class.getModule();
        if (modulePath != null && library.isNamed()) {
            // every module this JVM resolved goes along: from its module path (the codecs of chunked sources, the S3
            // client: optional, found by reflection) and from the runtime image (java.net.http for http sources,
            // jdk.jfr, java.xml for the S3 client; none of them pulled in by uffd4j's module alone), with native
            // access where this JVM grants it; and so does the class path (PageSourceProviders, codecs there)
            List<String> modules = new ArrayList<>();
            List<String> nativeAccess = new ArrayList<>(List.of(library.getName()));
            for (var resolved : ModuleLayer.boot().configuration().modules()) {
                String name = resolved.name();
                if (name.equals(library.getName()) || name.startsWith("jdk.internal.") || name.startsWith("jdk.incubator.")) {
                    continue;
                }
                modules.add(name);
                if (ModuleLayer.boot().findModule(name).orElseThrow().isNativeAccessEnabled()
                        && resolved.reference().location().map(u -> !"jrt".equals(u.getScheme())).orElse(false)) {
                    nativeAccess.add(name);
                }
            }
            String upgrades = System.getProperty("jdk.module.upgrade.path");
            if (upgrades != null) {
                cmd.addAll(List.of("--upgrade-module-path", upgrades));
            }
            String classPath = System.getProperty("java.class.path", "");
            if (!classPath.isEmpty()) {
                cmd.addAll(List.of("-cp", classPath));
                if (ClassLoader.getSystemClassLoader().getUnnamedModule().isNativeAccessEnabled()) {
                    nativeAccess.add("ALL-UNNAMED");
                }
            }
            if (!modules.isEmpty()) {
                cmd.addAll(List.of("--add-modules", String.join(",", modules)));
            }
            cmd.addAll(List.of("--enable-native-access=" + String.join(",", nativeAccess), "--module-path", modulePath,
                    "--module", library.getName() + "/" + PagerLaunch.class.getName()));
        } else {
            cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    PagerLaunch.class.getName()));
        }
        return cmd;
    }

    /** Runs until stopped (SIGTERM, or the owner's exit): 0, or 1 when a supervisor's restarts were used up. */
    static int run(Options o) throws InterruptedException {
        try {
            if (o.restarts() >= 0) {
                Pager.privateDirectory(o.socket().getParent());
                PagerSupervisor supervisor = new PagerSupervisor(command(o.supervised(), o.pagerJvmOptions()), o.journal(),
                        o.restarts(), Pager.allowedOrOwn(o.allowUids()));
                whenOwnerExits(o, supervisor::stop);
                return supervisor.run();
            }
            return runPager(o);
        } finally {
            if (o.removeDirectory()) {
                removeDirectory(o.socket().getParent());
            }
        }
    }

    @SuppressWarnings("try") // the shutdown hook closes the pager early, on purpose; the try closes it otherwise
    private static int runPager(Options o) throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Pager.Builder b = Pager.builder().socket(o.socket())
                .allowUids(o.allowUids().stream().mapToInt(Integer::intValue).toArray())
                .threads(o.threads()).faultDeadline(o.faultDeadline()).journal(o.journal()).recover(o.recover());
        try (Pager pager = b.start()) {
            Runnable stopPager = () -> {
                pager.close();
                stop.countDown();
            };
            Runtime.getRuntime().addShutdownHook(new Thread(stopPager, "uffd4j-pager-stop"));
            whenOwnerExits(o, stopPager);
            System.out.println("pager ready (pid " + ProcessHandle.current().pid() + "): " + pager.socket());
            System.out.flush();
            stop.await();
        }
        return 0;
    }

    /**
     * Runs {@code action} on a daemon thread once the owner process exits (at once if it already
     * has, or if its pid now names another process).
     */
    private static void whenOwnerExits(Options o, Runnable action) {
        if (o.ownerPid() <= 0) {
            return;
        }
        Thread.ofPlatform().daemon().name("uffd4j-pager-owner-watch").start(() -> {
            try (Pidfd owner = Pidfd.open(o.ownerPid())) {
                if (Pidfd.startTime(o.ownerPid()) == o.ownerStart()) {
                    owner.awaitExit(null);
                }
            } catch (UffdException | UffdClosedException gone) {
                // exited already
            }
            System.out.println("pager: its owner, pid " + o.ownerPid() + ", exited; stopping");
            System.out.flush();
            action.run();
        });
    }

    /** Deletes a launched pager's private directory (socket, journal, log). Best effort. */
    static void removeDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // another process deletes it too, or it is busy: leave it
                }
            });
        } catch (IOException | RuntimeException e) {
            // gone meanwhile
        }
    }

    /** The entry point of the child JVMs; settings in {@code -Duffd4j.pager.*} properties. */
    public static void main(String[] args) throws InterruptedException {
        System.exit(run(Options.fromProperties()));
    }
}
