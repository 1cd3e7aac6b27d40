package io.github.uffd4j.pager;

import io.github.uffd4j.ChildJvm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A pager in a child JVM ({@link PagerChild}) for the tests; stopped (SIGTERM, then SIGKILL) on close. */
final class PagerProcess implements AutoCloseable {

    private final Process process;
    private final Path log;
    private final Path socket;

    private PagerProcess(Process process, Path log, Path socket) {
        this.process = process;
        this.log = log;
        this.socket = socket;
    }

    /** Starts a pager on {@code socket} and waits until it listens. */
    static PagerProcess start(Path socket, String... extraArgs) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--socket", socket.toString()));
        args.addAll(List.of(extraArgs));
        List<String> cmd = ChildJvm.command(PagerChild.class, List.of("-Xmx256m"), args.toArray(String[]::new));
        Path log = Files.createTempFile("uffd4j-pager-", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        PagerProcess pp = new PagerProcess(p, log, socket);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.readString(log, StandardCharsets.UTF_8).contains("pager ready")) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                String out = pp.output();
                pp.close();
                throw new IllegalStateException("the pager did not start: " + out);
            }
            Thread.sleep(20);
        }
        return pp;
    }

    Process process() {
        return process;
    }

    String output() throws IOException {
        return Files.readString(log, StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException, InterruptedException {
        List<ProcessHandle> children = process.descendants().toList(); // a supervisor's pager
        process.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        children.forEach(ProcessHandle::destroyForcibly);
        Files.deleteIfExists(log);
    }
}
