package io.github.uffd4j.bench;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Touches memory from native code, as cheaply as a downcall allows, and pins threads to CPUs:
 * the benchmarks' only restricted FFM calls.
 *
 * <p>A thread must never take a userfaultfd fault with a Java load or store: it would be blocked
 * "in Java" and hold up every safepoint, and the JVM deadlocks (JvmSafepointHazardTest). The
 * library's own accessors fault pages in with madvise; the benchmarks, which compare the handler
 * path with C's, touch through a one-byte libc call instead (memchr to read, memset to write),
 * the closest a JVM thread safely gets to C's plain load and store.
 */
final class NativeTouch {

    // pointers travel as longs (same x86-64/aarch64 calling convention), so no call allocates a segment
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MEMCHR = LINKER.downcallHandle(LINKER.defaultLookup().find("memchr").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle MEMSET = LINKER.downcallHandle(LINKER.defaultLookup().find("memset").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle SCHED_SETAFFINITY = LINKER.downcallHandle(
            LINKER.defaultLookup().find("sched_setaffinity").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));

    private NativeTouch() {
    }

    /** Reads the byte at {@code address} in native code (a read fault if the page is missing). */
    static void read(long address) {
        try {
            long unused = (long) MEMCHR.invokeExact(address, 0x5a, 1L);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Writes 1 to the byte at {@code address} in native code (a write fault if missing or protected). */
    static void write(long address) {
        try {
            long unused = (long) MEMSET.invokeExact(address, 1, 1L);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Sets {@code length} bytes at {@code address} to {@code value} in native code (write faults taken there, not in Java). */
    static void fill(long address, int value, long length) {
        try {
            long unused = (long) MEMSET.invokeExact(address, value, length);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Pins the calling thread to {@code cpu} (sched_setaffinity on the thread's own id). */
    static void pinTo(int cpu) {
        if (cpu < 0 || cpu >= 64) {
            throw new IllegalArgumentException("cpu " + cpu);
        }
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(ValueLayout.JAVA_LONG);
            mask.set(ValueLayout.JAVA_LONG, 0, 1L << cpu);
            int rc = (int) SCHED_SETAFFINITY.invokeExact(0, 8L, mask.address());
            if (rc != 0) {
                throw new IllegalStateException("sched_setaffinity(cpu " + cpu + ") failed");
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
