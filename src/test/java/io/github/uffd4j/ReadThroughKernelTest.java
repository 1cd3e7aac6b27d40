package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory.readThroughKernel (the accessors' slow path) and writeThroughKernel: a missing registered
 * page is waited for and served, a poisoned or unmapped page is an exception (never a signal).
 * Both ways: process_vm_readv/writev, and (in a child JVM) the madvise + pread/pwrite on
 * /proc/self/mem fallback used where seccomp forbids them.
 */
class ReadThroughKernelTest {

    @Test
    void processVmReadv() throws Exception {
        scenarios();
    }

    @Test
    void procSelfMemFallback() throws Exception {
        ChildJvm.Result r = ChildJvm.run(ReadThroughKernelTest.class, Duration.ofSeconds(60),
                List.of("-Duffd4j.readThroughKernel=proc-mem", "-Duffd4j.writeThroughKernel=proc-mem"));
        assertTrue(r.ok() && r.output().contains("all scenarios passed"), r.describe());
    }

    /** The child JVM of {@link #procSelfMemFallback}. */
    public static void main(String[] args) throws Exception {
        scenarios();
        System.out.println("all scenarios passed");
    }

    private static void scenarios() throws Exception {
        TestSupport.assumeFeature(Feature.POISON);
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(4 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment dst = arena.allocate(2 * PAGE, PAGE);
            // a missing page: the reading thread waits in the kernel until the page is copied in
            Future<Void> reader = inThread("reader", () -> {
                Memory.readThroughKernel(m.address() + PAGE + 16, dst.asSlice(0, 64));
                return null;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class,
                    uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no fault")));
            assertEquals(m.address() + PAGE, pf.address() & -PAGE);
            uffd.copy(m.slice(PAGE, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 7));
            await(reader);
            assertEquals((byte) 7, dst.get(ValueLayout.JAVA_BYTE, 63));
            // a poisoned page after a present one: an exception saying how far the copy got
            uffd.poison(m.slice(2 * PAGE, PAGE), 0);
            UffdException poisoned = assertThrows(UffdException.class,
                    () -> Memory.readThroughKernel(m.address() + PAGE, dst));
            assertEquals(PAGE, poisoned.bytesDone(), poisoned.getMessage());
            // the write twin: a missing page is waited for, then written; a poisoned page is an exception
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 9);
            Future<Void> writer = inThread("writer", () -> {
                Memory.writeThroughKernel(m.address() + 3 * PAGE + 8, src.asSlice(0, 100));
                return null;
            });
            UffdEvent.PageFault wf = assertInstanceOf(UffdEvent.PageFault.class,
                    uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no fault for the write")));
            assertEquals(m.address() + 3 * PAGE, wf.address() & -PAGE);
            uffd.copy(m.slice(3 * PAGE, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 5));
            await(writer);
            Memory.readThroughKernel(m.address() + 3 * PAGE, dst.asSlice(0, PAGE));
            assertEquals((byte) 5, dst.get(ValueLayout.JAVA_BYTE, 7));
            assertEquals((byte) 9, dst.get(ValueLayout.JAVA_BYTE, 8));
            assertEquals((byte) 9, dst.get(ValueLayout.JAVA_BYTE, 107));
            assertEquals((byte) 5, dst.get(ValueLayout.JAVA_BYTE, 108));
            UffdException poisonedWrite = assertThrows(UffdException.class,
                    () -> Memory.writeThroughKernel(m.address() + PAGE, dst));
            assertEquals(PAGE, poisonedWrite.bytesDone(), poisonedWrite.getMessage());
        }
        // unmapped memory: an exception, not a crash
        Mapping gone = Memory.anonymous(PAGE);
        long address = gone.address();
        gone.close();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(8);
            assertThrows(UffdException.class, () -> Memory.readThroughKernel(address, dst));
            assertThrows(UffdException.class, () -> Memory.writeThroughKernel(address, dst));
        }
    }
}
