package io.github.uffd4j.pager;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code scripts/pager}: runs a {@link Pager} until it is stopped (SIGTERM / Ctrl-C). Needs
 * picocli on the class path (an optional dependency of the library).
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

    /** Prints the library version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = PagerMain.class.getPackage().getImplementationVersion();
            return new String[] {"uffd4j pager " + (v != null ? v : "(development build)")};
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        try (Pager pager = Pager.builder().socket(socket).allowUids(allowUids.stream().mapToInt(Integer::intValue).toArray())
                .threads(threads).start()) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                pager.close();
                stop.countDown();
            }, "uffd4j-pager-stop"));
            System.out.println("pager ready: " + pager.socket());
            System.out.flush();
            stop.await();
        }
        return 0;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new PagerMain()).execute(args));
    }
}
