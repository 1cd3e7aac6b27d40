package io.github.uffd4j;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Helpers shared by the kernel tests: skips with reasons, huge pages, threads that touch memory. */
public final class TestSupport {

    public static final long PAGE = Memory.pageSize();
    public static final Duration WAIT = Duration.ofSeconds(10);

    private TestSupport() {
    }

    public static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines()
                    .filter(l -> l.startsWith("Uid:")).findFirst()
                    .map(l -> l.split("\\s+")[2].equals("0")).orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    /** Skips the test, printing why, unless the kernel supports {@code feature}. */
    public static void assumeFeature(Feature feature) {
        boolean ok = Userfaultfd.isSupported(feature);
        if (!ok) {
            System.out.println("SKIPPED: the running kernel lacks " + feature + " (needs Linux " + feature.sinceKernel() + ")");
        }
        Assumptions.assumeTrue(ok, () -> "kernel lacks " + feature + " (Linux " + feature.sinceKernel() + "+)");
    }

    /** Root and setpriv (util-linux), to start a process as user nobody; skips the test otherwise. */
    public static void assumeCanRunAsNobody() {
        Assumptions.assumeTrue(isRoot(), "needs root to start a process as another user");
        Assumptions.assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
    }

    /** As {@link #assumeCanRunAsNobody}, and {@code vm.unprivileged_userfaultfd=0}: user nobody is refused a userfaultfd. */
    public static void assumeNobodyIsRefusedUserfaultfd() throws IOException {
        Assumptions.assumeTrue(isRoot(), "needs root to start a process as another user");
        Assumptions.assumeTrue(Files.readString(Path.of("/proc/sys/vm/unprivileged_userfaultfd")).strip().equals("0"),
                "vm.unprivileged_userfaultfd is not 0 here");
        Assumptions.assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
    }

    /**
     * A C compiler on PATH (cc, gcc or clang); skips the test, printing why, when there is none.
     * {@code purpose} finishes the sentence "install gcc ...".
     */
    public static String assumeCCompiler(String purpose) {
        for (String cc : java.util.List.of("cc", "gcc", "clang")) {
            for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
                if (Files.isExecutable(Path.of(dir, cc))) {
                    return cc;
                }
            }
        }
        System.out.println("SKIPPED: no C compiler (cc, gcc or clang) on PATH: install gcc " + purpose);
        Assumptions.abort("no C compiler on PATH");
        throw new AssertionError("unreachable");
    }

    /** Runs {@code cmd}, which must exit with 0 within a minute; returns its output (stdout and stderr). */
    public static String runCommand(java.util.List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        org.junit.jupiter.api.Assertions.assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + cmd);
        org.junit.jupiter.api.Assertions.assertEquals(0, p.exitValue(), cmd + "\n" + out);
        return out;
    }

    /** Skips the test, printing why, unless {@code pages} huge pages of {@code size} are free (reserving them as root). */
    public static void assumeHugePages(HugePageSize size, int pages) {
        boolean ok = Memory.freeHugePages(size) >= pages;
        String why = "";
        if (!ok && isRoot()) {
            restoreOnExit(size);
            try {
                ok = Memory.reserveHugePages(size, pages);
                why = ok ? "" : "could reserve only " + Memory.freeHugePages(size) + " free " + size + " pages";
            } catch (IOException e) {
                why = "reserving " + size + " pages failed: " + e;
            }
        } else if (!ok) {
            why = "needs " + pages + " free " + size + " huge pages; reserve them as root: echo N > "
                    + size.sysfsDir() + "/nr_hugepages";
        }
        if (!ok) {
            System.out.println("SKIPPED: " + why);
        }
        String reason = why;
        Assumptions.assumeTrue(ok, () -> reason);
    }

    private static final java.util.Set<HugePageSize> RESTORE = java.util.EnumSet.noneOf(HugePageSize.class);

    /** Gives the pool of {@code size} back its current size when the test JVM exits. */
    private static synchronized void restoreOnExit(HugePageSize size) {
        if (RESTORE.add(size)) {
            long before = Memory.totalHugePages(size);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    Files.writeString(Path.of(size.sysfsDir(), "nr_hugepages"), Long.toString(before));
                } catch (IOException e) {
                    System.err.println("could not restore " + size + " huge pages to " + before + ": " + e);
                }
            }));
        }
    }

    /** Runs {@code task} on a new platform thread (which may block in a page fault). */
    public static <T> Future<T> inThread(String name, Callable<T> task) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                f.complete(task.call());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        });
        f.whenComplete((v, e) -> t.interrupt());
        return f;
    }

    public static <T> T await(Future<T> f) throws Exception {
        try {
            return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }

    /** Whether {@code f} is still running after {@code millis}. */
    public static boolean stillBlocked(Future<?> f, long millis) throws Exception {
        try {
            f.get(millis, TimeUnit.MILLISECONDS);
            return false;
        } catch (TimeoutException e) {
            return true;
        }
    }

    /** Waits (without reading) until {@code fd} is readable; false on timeout. */
    public static boolean pollReadable(int fd, Duration timeout) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment p = arena.allocate(io.github.uffd4j.internal.linux.Abi.POLLFD_SIZE, 8);
            p.set(ValueLayout.JAVA_INT, io.github.uffd4j.internal.linux.Abi.POLLFD_FD, fd);
            p.set(ValueLayout.JAVA_SHORT, io.github.uffd4j.internal.linux.Abi.POLLFD_EVENTS, (short) io.github.uffd4j.internal.linux.Abi.POLLIN);
            return io.github.uffd4j.internal.linux.Native.poll(p, 1, (int) timeout.toMillis()) == 1;
        }
    }

    /*
     * Faults on registered memory are taken in native code here, never by a Java load or store:
     * a thread blocked in a fault in Java state stops every JVM safepoint (and shared-arena
     * handshake) until the fault is served, and the handler thread then stops at that safepoint
     * too: the JVM deadlocks. JvmSafepointHazardTest pins that down; the tests use these.
     */

    /** Faults the pages of {@code [address, address + length)} in for reading, from native code: madvise(MADV_POPULATE_READ). */
    public static void touchRead(long address, long length) {
        long start = address & -PAGE;
        long len = Memory.roundUp(address + length, PAGE) - start;
        Memory.populate(start, len, false);
    }

    /**
     * Stores {@code value} (non-zero) at {@code address} from native code: read(2) of an eventfd's
     * 8-byte counter into the memory, which the kernel writes (a write fault).
     */
    public static void touchWrite(long address, long value) {
        int efd = io.github.uffd4j.internal.linux.Native.eventfd(0, io.github.uffd4j.internal.linux.Abi.EFD_CLOEXEC);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment v = arena.allocate(8);
            v.set(ValueLayout.JAVA_LONG, 0, value);
            io.github.uffd4j.internal.linux.Native.write(efd, v, 8);
            long r = io.github.uffd4j.internal.linux.Native.read(efd, io.github.uffd4j.internal.linux.Native.segment(address, 8), 8);
            if (r != 8) {
                throw new IllegalStateException("read(eventfd) into 0x" + Long.toHexString(address) + ": "
                        + io.github.uffd4j.internal.linux.Errno.name(io.github.uffd4j.internal.linux.Native.errno()));
            }
        } finally {
            io.github.uffd4j.internal.linux.Native.close(efd);
        }
    }

    /** Faults the byte at {@code offset} in from native code, then reads it. */
    public static byte readByte(MemorySegment s, long offset) {
        touchRead(s.address() + offset, 1);
        return s.get(ValueLayout.JAVA_BYTE, offset);
    }

    /**
     * Runs {@code body} with the calling thread pinned to the CPU it is on now (sched_setaffinity),
     * then gives the thread its former affinity back. For kernel behaviour that is per CPU: pages
     * faulted in wait in that CPU's LRU batch, which MADV_PAGEOUT drains only on the CPU it runs on.
     */
    public static <T> T onOneCpu(Callable<T> body) throws Exception {
        java.lang.foreign.Linker linker = java.lang.foreign.Linker.nativeLinker();
        var lookup = linker.defaultLookup();
        var getcpu = linker.downcallHandle(lookup.find("sched_getcpu").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT));
        var affinity = java.lang.foreign.FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                ValueLayout.ADDRESS);
        var getaffinity = linker.downcallHandle(lookup.find("sched_getaffinity").orElseThrow(), affinity);
        var setaffinity = linker.downcallHandle(lookup.find("sched_setaffinity").orElseThrow(), affinity);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            long bytes = 128; // 1024 CPUs
            MemorySegment before = arena.allocate(bytes, 8);
            MemorySegment one = arena.allocate(bytes, 8);
            try {
                if ((int) getaffinity.invokeExact(0, bytes, before) != 0) {
                    throw new IllegalStateException("sched_getaffinity failed");
                }
                int cpu = (int) getcpu.invokeExact();
                one.set(ValueLayout.JAVA_LONG, (cpu / 64) * 8L, 1L << (cpu % 64));
                if ((int) setaffinity.invokeExact(0, bytes, one) != 0) {
                    throw new IllegalStateException("sched_setaffinity(cpu " + cpu + ") failed");
                }
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
            try {
                return body.call();
            } finally {
                try {
                    int unused = (int) setaffinity.invokeExact(0, bytes, before);
                } catch (Throwable t) {
                    throw new IllegalStateException(t);
                }
            }
        }
    }

    /** Whether the running kernel's version (os.version, "6.18.0-...") is at least major.minor. */
    public static boolean kernelAtLeast(int major, int minor) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(System.getProperty("os.version"));
        if (!m.find()) {
            return false;
        }
        int a = Integer.parseInt(m.group(1));
        int b = Integer.parseInt(m.group(2));
        return a > major || (a == major && b >= minor);
    }

    /** Faults the long at {@code offset} in from native code, then reads it. */
    public static long readLong(MemorySegment s, long offset) {
        touchRead(s.address() + offset, 8);
        return s.get(ValueLayout.JAVA_LONG, offset);
    }

    /** A page of native memory filled with {@code value}. */
    public static MemorySegment pageOf(java.lang.foreign.Arena arena, long size, byte value) {
        MemorySegment s = arena.allocate(size, PAGE);
        s.fill(value);
        return s;
    }
}
