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
final class TestSupport {

    static final long PAGE = Memory.pageSize();
    static final Duration WAIT = Duration.ofSeconds(10);

    private TestSupport() {
    }

    static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines()
                    .filter(l -> l.startsWith("Uid:")).findFirst()
                    .map(l -> l.split("\\s+")[2].equals("0")).orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    /** Skips the test, printing why, unless the kernel supports {@code feature}. */
    static void assumeFeature(Feature feature) {
        boolean ok = Userfaultfd.isSupported(feature);
        if (!ok) {
            System.out.println("SKIPPED: the running kernel lacks " + feature + " (needs Linux " + feature.sinceKernel() + ")");
        }
        Assumptions.assumeTrue(ok, () -> "kernel lacks " + feature + " (Linux " + feature.sinceKernel() + "+)");
    }

    /** Skips the test, printing why, unless {@code pages} huge pages of {@code size} are free (reserving them as root). */
    static void assumeHugePages(HugePageSize size, int pages) {
        boolean ok = Memory.freeHugePages(size) >= pages;
        String why = "";
        if (!ok && isRoot()) {
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

    /** Runs {@code task} on a new platform thread (which may block in a page fault). */
    static <T> Future<T> inThread(String name, Callable<T> task) {
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

    static <T> T await(Future<T> f) throws Exception {
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
    static boolean stillBlocked(Future<?> f, long millis) throws Exception {
        try {
            f.get(millis, TimeUnit.MILLISECONDS);
            return false;
        } catch (TimeoutException e) {
            return true;
        }
    }

    /** Waits (without reading) until {@code fd} is readable; false on timeout. */
    static boolean pollReadable(int fd, Duration timeout) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment p = io.github.uffd4j.internal.gen.pollfd.allocate(arena);
            io.github.uffd4j.internal.gen.pollfd.fd(p, fd);
            io.github.uffd4j.internal.gen.pollfd.events(p, (short) io.github.uffd4j.internal.gen.UffdNative.POLLIN());
            return io.github.uffd4j.internal.linux.Native.poll(p, 1, (int) timeout.toMillis()) == 1;
        }
    }

    /** Reads the byte at {@code offset} (a plain memory access that may fault). */
    static byte readByte(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_BYTE, offset);
    }

    /** A page of native memory filled with {@code value}. */
    static MemorySegment pageOf(java.lang.foreign.Arena arena, long size, byte value) {
        MemorySegment s = arena.allocate(size, PAGE);
        s.fill(value);
        return s;
    }
}
