package io.github.uffd4j;

import io.github.uffd4j.internal.linux.TestNatives;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.Future;
import org.junit.jupiter.api.function.Executable;
import java.util.stream.Stream;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The binding's findings of issue 10: what a hostile but legitimate caller passes in must be refused in Java. */
class ArgumentSafetyTest {

    private static final long HUGE_LENGTH = 0x7ffffffffffff000L;

    // ---- #5: segments whose arena is closed --------------------------------------------------

    @Test
    void segmentsFromClosedArenasAreRefused() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(EnumSet.of(Feature.MOVE)).open();
             Mapping victim = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            Mapping gone = Memory.anonymous(PAGE);
            MemorySegment dead = gone.segment();
            gone.close();
            Arena closed = Arena.ofConfined();
            MemorySegment deadSrc = closed.allocate(PAGE, PAGE);
            closed.close();
            uffd.register(victim.segment(), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 1);
            for (Executable call : new Executable[]{
                    () -> uffd.register(dead, RegisterMode.MISSING),
                    () -> uffd.unregister(dead),
                    () -> uffd.copy(dead, src),
                    () -> uffd.copy(victim.segment(), deadSrc),
                    () -> uffd.move(dead, src, 0),
                    () -> uffd.move(victim.segment(), deadSrc, 0),
                    () -> uffd.zeropage(dead, 0),
                    () -> uffd.wake(dead),
                    () -> uffd.writeProtect(dead)}) {
                IllegalStateException e = assertThrows(IllegalStateException.class, call::execute);
                assertFalse(e instanceof UffdClosedException, e.toString());
                assertTrue(e.getMessage().contains("arena is closed"), e.getMessage());
            }
            // the victim's page is still missing: nothing was copied or moved into it
            uffd.zeropage(victim.segment(), 0);
        }
    }

    // ---- #7: bytesDone of the all-or-nothing ioctls ------------------------------------------

    @Test
    void failedWriteProtectReportsNothingDone() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMOVE, Feature.PAGEFAULT_FLAG_WP).open();
             Mapping m = Memory.anonymous(2 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING, RegisterMode.WP);
            uffd.copy(m.segment(), TestSupport.pageOf(arena, 2 * PAGE, (byte) 1));
            // a REMOVE event not yet read: the address space is changing, WRITEPROTECT fails with EAGAIN
            Future<Void> zap = inThread("madvise", () -> {
                Memory.dontNeed(m.address(), PAGE);
                return null;
            });
            long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
            while (!uffd.hasPendingMessages() && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            AddressSpaceChangedException e = assertThrows(AddressSpaceChangedException.class, () -> uffd.writeProtect(m.segment()));
            assertEquals(0, e.bytesDone(), e.getMessage());
            assertFalse(e.getMessage().contains("retry from"), e.getMessage());
            assertFalse(e.getMessage().contains(" of " + 2 * PAGE + " bytes"), e.getMessage());
            assertInstanceOf(UffdEvent.Remove.class, uffd.nextEvent(TestSupport.WAIT).orElseThrow());
            await(zap);
        }
    }

    @Test
    void failedWakeUnregisterAndWriteProtectReportNothingDone() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP).open()) {
            int dup = TestNatives.dup(uffd.fd());
            // an adopted descriptor has no registry of its own: only the kernel checks the range
            try (Userfaultfd unchecked = Userfaultfd.adopt(dup, uffd.features(), false)) {
                long beyond = (1L << 47) - PAGE; // crosses the end of the user address space
                for (Executable call : new Executable[]{
                        () -> unchecked.wake(beyond, 2 * PAGE),
                        () -> unchecked.writeProtect(beyond, 2 * PAGE, true, 0),
                        () -> unchecked.unregister(beyond, 2 * PAGE)}) {
                    UffdException e = assertThrows(UffdException.class, call::execute);
                    assertEquals(0, e.bytesDone(), e.getMessage());
                    assertFalse(e.getMessage().contains(" after "), e.getMessage());
                }
            }
        }
    }

    // ---- #8: remap to an address that is not free ------------------------------------------

    @Test
    void remapRefusesATargetThatIsNotFree() {
        try (Mapping other = Memory.anonymous(2 * PAGE)) {
            other.segment().fill((byte) 0x22);
            Mapping m = Memory.anonymous(PAGE);
            m.segment().fill((byte) 0x11);
            UffdException e = assertThrows(UffdException.class, () -> m.remap(PAGE, other.address() + PAGE));
            assertEquals("mmap(MAP_FIXED_NOREPLACE)", e.call());
            assertEquals("EEXIST", e.errnoName());
            assertTrue(e.getMessage().contains("not free"), e.getMessage());
            assertTrue(m.isOpen(), "the mapping stays where it was");
            assertEquals((byte) 0x11, m.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertEquals((byte) 0x22, other.segment().get(ValueLayout.JAVA_BYTE, PAGE), "the other mapping is untouched");
            // overlapping only the start of the target is refused too
            assertThrows(UffdException.class, () -> m.remap(2 * PAGE, other.address() - PAGE));
            assertEquals((byte) 0x22, other.segment().get(ValueLayout.JAVA_BYTE, 0));
            // a free target works
            Mapping hole = Memory.anonymous(PAGE);
            long free = hole.address();
            hole.close();
            try (Mapping moved = m.remap(PAGE, free)) {
                assertEquals(free, moved.address());
                assertEquals((byte) 0x11, moved.segment().get(ValueLayout.JAVA_BYTE, 0));
            }
        }
    }

    // ---- #11, #12: descriptors on error paths ----------------------------------------------

    private static long openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void failedAdoptionsLeakNoDescriptor() throws IOException {
        try (Userfaultfd uffd = Userfaultfd.open()) {
            long before = openDescriptors();
            for (int i = 0; i < 1000; i++) {
                int dup = TestNatives.dup(uffd.fd());
                NullPointerException e = assertThrows(NullPointerException.class, () -> Userfaultfd.adopt(dup, null, false));
                assertTrue(e.getMessage().contains("features"), e.getMessage());
                Native.close(dup);
            }
            assertEquals(before, openDescriptors(), "descriptors leaked by failed adopt() calls");
        }
    }

    @Test
    void aFailedHandshakeLeavesTheAdoptedDescriptorToTheCaller() {
        try (Userfaultfd uffd = Userfaultfd.open()) {
            int dup = TestNatives.dup(uffd.fd());
            try {
                // the handshake was already done on this file: a second UFFDIO_API is EINVAL
                UffdException e = assertThrows(UffdException.class, () -> Userfaultfd.adopt(dup, Set.of(), true));
                assertEquals("UFFDIO_API", e.call());
                assertTrue(Files.exists(Path.of("/proc/self/fd/" + dup)), "adopt closed the caller's descriptor");
            } finally {
                assertEquals(0, Native.close(dup), "the caller closes its own descriptor");
            }
        }
    }

    // ---- #14: ranges that overflow, heap memory ---------------------------------------------

    @Test
    void overflowingLengthsAreRefusedInJavaByEveryRangeIoctl() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.MOVE, Feature.POISON).open();
             Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            long a = m.address();
            for (Executable call : new Executable[]{
                    () -> uffd.copy(a, a, HUGE_LENGTH, 0),
                    () -> uffd.zeropage(a, HUGE_LENGTH, 0),
                    () -> uffd.wake(a, HUGE_LENGTH),
                    () -> uffd.writeProtect(a, HUGE_LENGTH, true, 0),
                    () -> uffd.continueRange(a, HUGE_LENGTH, 0),
                    () -> uffd.poison(a, HUGE_LENGTH, 0),
                    () -> uffd.move(a, a, HUGE_LENGTH, 0),
                    () -> uffd.unregister(a, HUGE_LENGTH),
                    () -> uffd.register(Native.segment(a, HUGE_LENGTH), RegisterMode.MISSING)}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::execute);
                assertTrue(e.getMessage().contains("outside the user address space"), e.getMessage());
            }
            uffd.zeropage(m.segment(), 0); // still registered, still missing
        }
    }

    @Test
    void heapSegmentsNeverReachTheKernel() {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MOVE).open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment heap = MemorySegment.ofArray(new byte[(int) PAGE]);
            for (Executable call : new Executable[]{
                    () -> uffd.register(heap, RegisterMode.MISSING),
                    () -> uffd.copy(m.segment(), heap),
                    () -> uffd.copy(heap, m.segment()),
                    () -> uffd.move(m.segment(), heap, 0),
                    () -> uffd.zeropage(heap, 0),
                    () -> uffd.unregister(heap)}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::execute);
                assertTrue(e.getMessage().contains("Java heap"), e.getMessage());
            }
        }
    }

    // ---- #15: odd but legal arguments, and nulls ---------------------------------------------

    @Test
    void anEndlessTimeoutSaturates() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Doorbell bell = Doorbell.create(); EventBuffer events = EventBuffer.allocate(1);
             Mapping m = Memory.anonymous(PAGE)) {
            bell.ring();
            assertEquals(0, uffd.read(events, Duration.ofSeconds(Long.MAX_VALUE), bell));
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Byte> r = inThread("reader", () -> TestSupport.readByte(m.segment(), 0));
            assertEquals(1, uffd.read(events, Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)));
            uffd.zeropage(m.segment(), 0);
            assertEquals((byte) 0, await(r));
            assertThrows(IllegalArgumentException.class, () -> uffd.read(events, Duration.ofSeconds(Long.MIN_VALUE)));
        }
    }

    @Test
    void nullArgumentsAreNamed() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> Userfaultfd.builder().features(new Feature[]{null}));
        assertTrue(e.getMessage().contains("features[0]"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> Userfaultfd.builder().features(Feature.THREAD_ID, null));
        assertTrue(e.getMessage().contains("features[1]"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> Userfaultfd.builder().creationPath(null));
        assertTrue(e.getMessage().contains("creationPath"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> Memory.sharedHugetlb(PAGE, null));
        assertTrue(e.getMessage().contains("pageSize"), e.getMessage());
        e = assertThrows(NullPointerException.class, () -> Memory.hugetlb(PAGE, null));
        assertTrue(e.getMessage().contains("pageSize"), e.getMessage());
    }
}
