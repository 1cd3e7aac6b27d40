package io.github.uffd4j.pager;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code scripts/pager}: runs a {@link Pager} until it is stopped (SIGTERM / Ctrl-C), by default
 * under a {@link PagerSupervisor} that replaces it if it dies. Needs picocli on the class path (an
 * optional dependency of the library).
 */
@Command(name = "pager", mixinStandardHelpOptions = true, versionProvider = PagerMain.Version.class,
        description = "Serves the page faults of apps that hand it their userfaultfd (see io.github.uffd4j.pager.PagedMemory).")
public final class PagerMain implements Callable<Integer> {

    @Option(names = "--socket", required = true, paramLabel = "PATH",
            description = "Unix socket to listen on; its directory is created 0700 (one others may enter is refused).")
    private Path socket;

    @Option(names = "--allow-uid", paramLabel = "UID", split = ",",
            description = "Uids whose apps are served (default: the pager's own uid).")
    private List<Integer> allowUids = List.of();

    @Option(names = "--threads", paramLabel = "N", defaultValue = "2", description = "Handler threads per app (default: ${DEFAULT-VALUE}).")
    private int threads;

    @Option(names = "--fault-deadline", paramLabel = "SECONDS", defaultValue = "30",
            description = "A page its source has not produced after this long is poisoned: the app's thread gets an error "
                    + "(default: ${DEFAULT-VALUE}).")
    private double faultDeadline;

    @Option(names = "--restarts", paramLabel = "N", defaultValue = "3",
            description = "Run under a supervisor that replaces a pager that dies up to N times (its replacement takes the "
                    + "apps over), then poisons the pages the apps never got. -1: no supervisor (default: ${DEFAULT-VALUE}).")
    private int restarts;

    @Option(names = "--journal", paramLabel = "DIR",
            description = "Where the pager records its apps for a replacement (default: SOCKET's directory/journal).")
    private Path journal;

    @Option(names = "--recover", hidden = true, description = "Take over the apps in the journal (used by the supervisor).")
    private boolean recover;

    /** A command line not parsed yet: picocli sets the options' fields ({@link #main} does all of it). */
    public PagerMain() {
    }

    /** Prints the library version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"pager (uffd4j " + io.github.uffd4j.Userfaultfd.libraryVersion() + ")",
                "Java " + Runtime.version() + ", " + System.getProperty("os.name") + " " + System.getProperty("os.version")};
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        return PagerLaunch.run(new PagerLaunch.Options(socket, Set.copyOf(allowUids), threads,
                Duration.ofMillis((long) (faultDeadline * 1000)), restarts, journal, recover, 0, 0, false, List.of()));
    }

    /**
     * Runs the pager with the command line {@code args} and exits with its status.
     *
     * @param args the command line; {@code --help} lists the options
     */
    public static void main(String[] args) {
        System.exit(new CommandLine(new PagerMain()).execute(args));
    }
}
