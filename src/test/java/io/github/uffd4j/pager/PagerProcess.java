package io.github.uffd4j.pager;

import io.github.uffd4j.ChildJvm;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A pager in a child JVM ({@link PagerChild}) for the tests; stopped (SIGTERM, then SIGKILL) on close. */
final class PagerProcess implements AutoCloseable {

    private final ChildJvm.Running running;

    private PagerProcess(ChildJvm.Running running) {
        this.running = running;
    }

    /** Starts a pager on {@code socket} and waits until it listens. */
    static PagerProcess start(Path socket, String... extraArgs) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--socket", socket.toString()));
        args.addAll(List.of(extraArgs));
        // the JDK's own logging: a pager's warnings stay in its output, which tests read
        return start(ChildJvm.command(PagerChild.class, List.of("-Xmx256m", "-Djava.util.logging.config.file="
                + java.nio.file.Path.of(System.getProperty("java.home"), "conf", "logging.properties")), args.toArray(String[]::new)));
    }

    /** Starts the pager {@code command} runs and waits until it listens. */
    static PagerProcess start(List<String> command) throws IOException, InterruptedException {
        PagerProcess pp = new PagerProcess(ChildJvm.start(command));
        if (pp.running.awaitLine("pager ready", Duration.ofSeconds(30)) == null) {
            String out = pp.output();
            pp.close();
            throw new IllegalStateException("the pager did not start: " + out);
        }
        return pp;
    }

    Process process() {
        return running.process();
    }

    String output() throws IOException {
        return running.output();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        Process process = running.process();
        List<ProcessHandle> children = process.descendants().toList(); // a supervisor's pager
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        children.forEach(ProcessHandle::destroyForcibly);
        running.close();
    }
}
