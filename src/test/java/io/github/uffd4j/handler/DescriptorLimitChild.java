package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * Child JVM of {@link RegionLifecycleTest}: runs FaultService.start() and LazySegment.open()
 * (anonymous and shared) with only k = 0..4 descriptor numbers left below RLIMIT_NOFILE, so each
 * step that opens a descriptor fails in turn, and checks after each try that the set of open
 * descriptors is what it was. Prints "LEAK ..." for any difference. Classes are loaded first (a
 * class file cannot be opened without a descriptor either).
 */
public final class DescriptorLimitChild {

    private static final int RLIMIT_NOFILE = 7;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle GETRLIMIT = LINKER.downcallHandle(LINKER.defaultLookup().find("getrlimit").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle SETRLIMIT = LINKER.downcallHandle(LINKER.defaultLookup().find("setrlimit").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));

    public static void main(String[] args) throws Throwable {
        loadClasses();
        PageSource source = Data.source(1);
        long size = 16 * Memory.pageSize();
        List<Callable<AutoCloseable>> opens = List.of(
                () -> FaultService.start(),
                () -> LazySegment.open(size, source),
                () -> LazySegment.builder(size, source).shared(true).open());
        for (Callable<AutoCloseable> open : opens) {
            open.call().close();   // warm up: every class and lazily linked handle on the path
        }
        long[] limit = rlimit();
        int failed = 0;
        for (int i = 0; i < opens.size(); i++) {
            for (int k = 0; k <= 4; k++) {
                TreeSet<Integer> before = descriptors();
                Throwable error = null;
                AutoCloseable opened = null;
                setRlimit(lowestLimitLeaving(before, k), limit[1]);
                try {
                    opened = opens.get(i).call();
                } catch (Throwable t) {
                    error = t;
                } finally {
                    setRlimit(limit[0], limit[1]);
                }
                if (opened != null) {
                    opened.close();
                }
                if (error != null) {
                    failed++;
                    System.out.println("open #" + i + " with " + k + " descriptors left: " + error);
                }
                TreeSet<Integer> after = descriptors();
                if (!after.equals(before)) {
                    System.out.println("LEAK: open #" + i + " with " + k + " descriptors left: before " + before + ", after " + after);
                }
            }
        }
        System.out.println("failed with EMFILE-like errors: " + failed);
        System.out.println("done");
        System.exit(0);
    }

    /** The limit under which exactly {@code k} descriptor numbers are free. */
    private static long lowestLimitLeaving(TreeSet<Integer> open, int k) {
        int free = 0;
        for (int n = 0; ; n++) {
            if (!open.contains(n)) {
                if (free == k) {
                    return n;
                }
                free++;
            }
        }
    }

    private static TreeSet<Integer> descriptors() throws Exception {
        TreeSet<Integer> fds = new TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            s.forEach(p -> {
                if (Files.exists(p)) {   // the listing's own descriptor is gone by the time it is checked... or not
                    fds.add(Integer.parseInt(p.getFileName().toString()));
                }
            });
        }
        // the listing's own descriptor: the lowest number that is free again now
        TreeSet<Integer> again = new TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            s.forEach(p -> again.add(Integer.parseInt(p.getFileName().toString())));
        }
        fds.retainAll(again);
        return fds;
    }

    private static long[] rlimit() throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(16);
            if ((int) GETRLIMIT.invokeExact(RLIMIT_NOFILE, r) != 0) {
                throw new IllegalStateException("getrlimit failed");
            }
            return new long[] {r.get(ValueLayout.JAVA_LONG, 0), r.get(ValueLayout.JAVA_LONG, 8)};
        }
    }

    private static void setRlimit(long soft, long hard) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment r = a.allocate(16);
            r.set(ValueLayout.JAVA_LONG, 0, soft);
            r.set(ValueLayout.JAVA_LONG, 8, hard);
            if ((int) SETRLIMIT.invokeExact(RLIMIT_NOFILE, r) != 0) {
                throw new IllegalStateException("setrlimit failed");
            }
        }
    }

    /** Loads every class of the library (from the class path directories) without initialising it. */
    private static void loadClasses() throws Exception {
        for (String entry : System.getProperty("java.class.path").split(":")) {
            Path root = Path.of(entry);
            if (!Files.isDirectory(root) || !Files.isDirectory(root.resolve("io/github/uffd4j"))) {
                continue;
            }
            try (Stream<Path> files = Files.walk(root.resolve("io/github/uffd4j"))) {
                for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                    String name = root.relativize(f).toString().replace('/', '.').replaceAll("\\.class$", "");
                    try {
                        Class.forName(name, false, DescriptorLimitChild.class.getClassLoader());
                    } catch (Throwable ignored) {
                        // a test-only class that needs JUnit: not on the path under test
                    }
                }
            }
        }
    }
}
