package io.github.uffd4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a scenario in a child JVM watched from outside: a JVM frozen by a fault taken in Java code
 * cannot report itself. The child is this JVM's java, with the test class path,
 * {@code --enable-native-access=ALL-UNNAMED} and the given main class; its output goes to a log
 * file. If it is still running at the time limit, it is asked for a thread dump (SIGQUIT; a JVM
 * stuck at a safepoint cannot give one) and killed.
 */
public final class ChildJvm {

    /**
     * How a child run ended.
     *
     * @param hung   whether it was killed at the time limit
     * @param exit   its exit status (-1 when killed)
     * @param output what it printed (stdout and stderr)
     */
    public record Result(boolean hung, int exit, String output) {

        /** Whether it exited by itself with status 0. */
        public boolean ok() {
            return !hung && exit == 0;
        }

        /**
         * For the test log: how it ended and its RESULT lines, if any. The whole output belongs in
         * assertion messages ({@link #describe}): printed on success it reads like a failure.
         */
        public String summary() {
            String results = output.lines().filter(l -> l.startsWith("RESULT")).collect(java.util.stream.Collectors.joining("; "));
            return (hung ? "HUNG (killed at the time limit)" : "exit " + exit) + ", " + output.lines().count() + " lines of output"
                    + (results.isEmpty() ? "" : ": " + results);
        }

        /** One line for assertion messages: how it ended and the last part of its output. */
        public String describe() {
            String tail = output.length() > 6_000 ? "..." + output.substring(output.length() - 6_000) : output;
            return (hung ? "HUNG (killed at the time limit)" : "exit " + exit) + "; output:\n" + tail;
        }
    }

    private ChildJvm() {
    }

    /** Runs {@code main} with {@code args} in a child JVM with a 256 MiB heap; kills it after {@code limit}. */
    public static Result run(Class<?> main, Duration limit, String... args) throws IOException, InterruptedException {
        return run(main, limit, List.of("-Xmx256m"), args);
    }

    /** Like {@link #run(Class, Duration, String...)}, with these JVM options instead of the default heap size. */
    public static Result run(Class<?> main, Duration limit, List<String> jvmOptions, String... args)
            throws IOException, InterruptedException {
        try (Running r = start(main, jvmOptions, args)) {
            return r.finish(limit);
        }
    }

    /** The command line of a child JVM: this JVM's java, the test class path, native access, {@code main} and {@code args}. */
    public static List<String> command(Class<?> main, List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        // the test JVM's logging (its warnings to a file, not the console), unless the caller chose one
        String logging = System.getProperty("java.util.logging.config.file");
        if (logging != null && jvmOptions.stream().noneMatch(o -> o.startsWith("-Djava.util.logging.config.file="))) {
            cmd.add("-Djava.util.logging.config.file=" + logging);
        }
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** This JVM's java launcher. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Runs {@code command} (a JVM, or a JVM under a wrapper such as setpriv); kills it after {@code limit}. */
    public static Result run(List<String> command, Duration limit) throws IOException, InterruptedException {
        try (Running r = start(command)) {
            return r.finish(limit);
        }
    }

    /**
     * A child JVM started without waiting: its output goes to a file the test can read while it
     * runs ({@link #awaitLine}); {@link #finish} waits for it with a time limit.
     */
    public static final class Running implements AutoCloseable {
        private final Process process;
        private final Path log;

        private Running(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        public Process process() {
            return process;
        }

        public String output() throws IOException {
            return Files.readString(log, StandardCharsets.UTF_8);
        }

        /** Waits for a line starting with {@code prefix}; returns it, or null when the child ended or the time passed. */
        public String awaitLine(String prefix, Duration limit) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + limit.toNanos();
            while (System.nanoTime() < deadline) {
                for (String line : output().split("\n")) {
                    if (line.startsWith(prefix)) {
                        return line;
                    }
                }
                if (!process.isAlive()) {
                    return null;
                }
                Thread.sleep(10);
            }
            return null;
        }

        /** Waits up to {@code limit} for the child to end (thread dump and kill when it does not). */
        public Result finish(Duration limit) throws IOException, InterruptedException {
            boolean done = process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                threadDump(process);
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            return new Result(!done, done ? process.exitValue() : -1, output().strip());
        }

        /** Kills the child (also when this thread was interrupted, e.g. by a test timeout) and deletes its output. */
        @Override
        public void close() throws IOException, InterruptedException {
            process.destroyForcibly();
            boolean interrupted = Thread.interrupted();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } finally {
                Files.deleteIfExists(log);
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Starts {@code main} in a child JVM and returns at once. */
    public static Running start(Class<?> main, List<String> jvmOptions, String... args) throws IOException {
        return start(command(main, jvmOptions, args));
    }

    /** Starts {@code command} (a JVM, or a JVM under a wrapper such as setpriv) and returns at once. */
    public static Running start(List<String> command) throws IOException {
        Path log = Files.createTempFile("uffd4j-child-", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new Running(p, log);
    }

    private static void threadDump(Process p) throws InterruptedException {
        try {
            new ProcessBuilder("kill", "-QUIT", Long.toString(p.pid())).start().waitFor(5, TimeUnit.SECONDS);
            p.waitFor(2, TimeUnit.SECONDS);
        } catch (IOException e) {
            // no kill(1): no thread dump
        }
    }
}
