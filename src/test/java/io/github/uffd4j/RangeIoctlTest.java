package io.github.uffd4j;

import io.github.uffd4j.internal.linux.TestNatives;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static io.github.uffd4j.TestSupport.stillBlocked;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** COPY, ZEROPAGE, WAKE, WRITEPROTECT, CONTINUE, POISON and MOVE: success paths and error paths. */
class RangeIoctlTest {

    private static UffdEvent.PageFault nextFault(Userfaultfd uffd) {
        UffdEvent e = uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no fault within " + TestSupport.WAIT));
        return assertInstanceOf(UffdEvent.PageFault.class, e);
    }

    /** A thread that reads the byte at {@code offset}, taking the fault in native code (see TestSupport). */
    private static Future<Byte> read(MemorySegment s, long offset) {
        return inThread("reader", () -> TestSupport.readByte(s, offset));
    }

    /** A thread that stores {@code value} as the long at {@code offset}, faulting in native code. */
    private static Future<Void> write(MemorySegment s, long offset, long value) {
        return inThread("writer", () -> {
            TestSupport.touchWrite(s.address() + offset, value);
            return null;
        });
    }

    // ---- COPY ------------------------------------------------------------------------------

    @Test
    void copyResolvesAMissingFaultOnShmem() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MISSING_SHMEM).open();
             SharedMemory shm = Memory.shared(2 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(shm.view().segment(), RegisterMode.MISSING);
            Future<Byte> r = read(shm.view().segment(), PAGE + 1);
            UffdEvent.PageFault pf = nextFault(uffd);
            assertTrue(pf.isMissing() && !pf.isWrite(), pf.toString());
            assertEquals(PAGE, uffd.copy(shm.view().slice(PAGE, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 9)));
            assertEquals((byte) 9, await(r));
            assertEquals((byte) 9, shm.alias().segment().get(ValueLayout.JAVA_BYTE, PAGE), "the alias sees the copied page");
        }
    }

    @Test
    void copyOnHugetlbFillsAWholeHugePage() throws Exception {
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 1);
        long huge = HugePageSize.SIZE_2MB.bytes();
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.hugetlb(huge, HugePageSize.SIZE_2MB);
             Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Byte> r = read(m.segment(), huge - 1);
            UffdEvent.PageFault pf = nextFault(uffd);
            assertEquals(m.address(), pf.address(), "hugetlb faults report the huge page start");
            MemorySegment src = arena.allocate(huge, PAGE);
            src.fill((byte) 3);
            assertEquals(huge, uffd.copy(m.segment(), src));
            assertEquals((byte) 3, await(r));
        }
    }

    @Test
    void copyWithDontWakeLeavesTheThreadAsleepUntilWake() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Byte> r = read(m.segment(), 0);
            nextFault(uffd);
            uffd.copy(m.segment(), TestSupport.pageOf(arena, PAGE, (byte) 5), Userfaultfd.DONT_WAKE);
            assertTrue(stillBlocked(r, 300), "DONT_WAKE must not wake the reader");
            uffd.wake(m.segment());
            assertEquals((byte) 5, await(r));
        }
    }

    @Test
    void copyOverAPresentPageIsEexistWithThePartialCount() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(3 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, 3 * PAGE, (byte) 7);
            uffd.copy(m.slice(PAGE, PAGE), src.asSlice(0, PAGE));
            // the kernel reports a short copy as EAGAIN with the count done...
            AddressSpaceChangedException partial = assertThrows(AddressSpaceChangedException.class, () -> uffd.copy(m.segment(), src));
            assertEquals("UFFDIO_COPY", partial.call());
            assertEquals(PAGE, partial.bytesDone(), "the first page was copied before the present one stopped the copy");
            assertEquals(m.address(), partial.address());
            assertEquals(3 * PAGE, partial.length());
            assertTrue(partial.getMessage().contains("retry from 0x" + Long.toHexString(m.address() + PAGE)), partial.getMessage());
            // ...and the retry of the rest meets the present page: EEXIST
            PageExistsException e = assertThrows(PageExistsException.class, () -> uffd.copy(m.slice(PAGE, 2 * PAGE), src.asSlice(0, 2 * PAGE)));
            assertEquals("EEXIST", e.errnoName());
            assertEquals(0, e.bytesDone());
            assertTrue(e.getMessage().contains("call wake()"), e.getMessage());
        }
    }

    @Test
    void eexistDoesNotWakeTheFaultingThreadButWakeDoes() throws Exception {
        // the race from the design notes: the page got mapped by someone else while a thread waits
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Byte> r = read(m.segment(), 0);
            nextFault(uffd);
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 4);
            uffd.copy(m.segment(), src, Userfaultfd.DONT_WAKE);
            assertThrows(PageExistsException.class, () -> uffd.copy(m.segment(), src));
            assertTrue(stillBlocked(r, 300), "EEXIST does not wake the waiting thread");
            uffd.wake(m.segment());
            assertEquals((byte) 4, await(r));
        }
    }

    @Test
    void copyWithWriteProtectMapsThePageProtected() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP).open();
             Mapping m = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING, RegisterMode.WP);
            uffd.copy(m.segment(), TestSupport.pageOf(arena, PAGE, (byte) 1), Userfaultfd.WRITE_PROTECT);
            assertEquals((byte) 1, TestSupport.readByte(m.segment(), 0), "reads are allowed");
            Future<Void> w = write(m.segment(), 0, 2);
            UffdEvent.PageFault pf = nextFault(uffd);
            assertTrue(pf.isWriteProtect() && pf.isWrite(), pf.toString());
            uffd.writeUnprotect(m.segment(), 0);
            await(w);
            assertEquals(2L, TestSupport.readLong(m.segment(), 0));
        }
    }

    @Test
    void copyFromUnreadableSourceIsEfault() {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Mapping gone = Memory.anonymous(PAGE);
            long src = gone.address();
            gone.close();
            UffdException e = assertThrows(UffdException.class, () -> uffd.copy(m.address(), src, PAGE, 0));
            assertEquals("EFAULT", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("source buffer"), e.getMessage());
        }
    }

    @Test
    void badRangesAndModesAreRejectedBeforeTheKernel() {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(2 * PAGE); Mapping other = Memory.anonymous(PAGE);
             Arena arena = Arena.ofConfined()) {
            uffd.register(m.slice(0, PAGE), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 0);
            assertThrows(IllegalArgumentException.class, () -> uffd.copy(m.slice(PAGE, PAGE), src));
            assertThrows(IllegalArgumentException.class, () -> uffd.copy(other.segment(), src));
            assertThrows(IllegalArgumentException.class, () -> uffd.copy(m.slice(0, PAGE), src.asSlice(0, 100)));
            assertThrows(IllegalArgumentException.class, () -> uffd.copy(m.slice(0, PAGE), MemorySegment.ofArray(new byte[(int) PAGE])));
            IllegalArgumentException mode = assertThrows(IllegalArgumentException.class,
                    () -> uffd.copy(m.slice(0, PAGE), src, Userfaultfd.ALLOW_SRC_HOLES));
            assertTrue(mode.getMessage().contains("allowed: DONT_WAKE WRITE_PROTECT"), mode.getMessage());
            assertThrows(IllegalArgumentException.class, () -> uffd.zeropage(m.slice(0, PAGE), Userfaultfd.WRITE_PROTECT));
            assertThrows(IllegalArgumentException.class, () -> uffd.wake(m.address() + 1, PAGE));
        }
    }

    @Test
    void adoptedDescriptorsLeaveRangeChecksToTheKernel() {
        try (Userfaultfd owner = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            Userfaultfd adopted = Userfaultfd.adopt(TestNatives.dup(owner.fd()), java.util.Set.of(), false);
            try {
                UffdException e = assertThrows(UffdException.class, () -> adopted.copy(m.segment(), TestSupport.pageOf(arena, PAGE, (byte) 1)));
                assertEquals("ENOENT", e.errnoName(), e.getMessage());
                assertTrue(e.getMessage().contains("not registered"), e.getMessage());
            } finally {
                adopted.close();
            }
        }
    }

    // ---- ZEROPAGE ------------------------------------------------------------------------------

    @Test
    void zeropageResolvesAFaultWithZeros() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(4 * PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Byte> r = read(m.segment(), 3 * PAGE);
            nextFault(uffd);
            assertEquals(4 * PAGE, uffd.zeropage(m.segment(), 0));
            assertEquals((byte) 0, await(r));
            PageExistsException e = assertThrows(PageExistsException.class, () -> uffd.zeropage(m.segment(), 0));
            assertEquals(0, e.bytesDone());
        }
    }

    @Test
    void zeropageIsNotAllowedOnHugetlb() throws Exception {
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 1);
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.hugetlb(HugePageSize.SIZE_2MB.bytes(), HugePageSize.SIZE_2MB)) {
            assertTrue(!uffd.register(m.segment(), RegisterMode.MISSING).allows(Ioctl.ZEROPAGE));
            UffdException e = assertThrows(UffdException.class, () -> uffd.zeropage(m.segment(), 0));
            assertEquals("EINVAL", e.errnoName(), e.getMessage());
        }
    }

    // ---- WRITEPROTECT --------------------------------------------------------------------------

    @Test
    void writeProtectStopsWritersUntilUnprotect() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.THREAD_ID).open();
             Mapping m = Memory.anonymous(2 * PAGE)) {
            m.populateWrite(0, 2 * PAGE);
            m.segment().set(ValueLayout.JAVA_BYTE, PAGE, (byte) 1);
            uffd.register(m.segment(), RegisterMode.WP);
            uffd.writeProtect(m.segment());
            Future<Integer> w = inThread("wp-writer", () -> {
                int tid = Native.gettid();
                TestSupport.touchWrite(m.address() + PAGE, 2);
                return tid;
            });
            UffdEvent.PageFault pf = nextFault(uffd);
            assertTrue(pf.isWriteProtect() && pf.isWrite(), pf.toString());
            assertEquals(m.address() + PAGE, pf.address());
            assertTrue(stillBlocked(w, 200));
            assertEquals((byte) 1, TestSupport.readByte(m.segment(), PAGE), "the write has not happened yet");
            uffd.writeUnprotect(m.slice(PAGE, PAGE), 0);
            assertEquals(pf.threadId(), await(w), "THREAD_ID names the writer");
            assertEquals(2L, TestSupport.readLong(m.segment(), PAGE));
        }
    }

    @Test
    void writeProtectOnShmemAndHugetlb() throws Exception {
        TestSupport.assumeFeature(Feature.WP_HUGETLBFS_SHMEM);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.WP_HUGETLBFS_SHMEM).open();
             SharedMemory shm = Memory.shared(PAGE)) {
            shm.view().populateWrite(0, PAGE);
            uffd.register(shm.view().segment(), RegisterMode.WP);
            uffd.writeProtect(shm.view().segment());
            Future<Void> w = write(shm.view().segment(), 0, 6);
            assertTrue(nextFault(uffd).isWriteProtect());
            uffd.writeUnprotect(shm.view().segment(), 0);
            await(w);
            assertEquals(6L, shm.alias().segment().get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Test
    void writeProtectSkipsUnpopulatedPagesUnlessWpUnpopulated() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP).nonBlocking(true).open();
             Mapping m = Memory.anonymous(PAGE); EventBuffer events = EventBuffer.allocate(1)) {
            uffd.register(m.segment(), RegisterMode.WP);
            uffd.writeProtect(m.segment());
            TestSupport.touchWrite(m.address(), 1);
            assertEquals(0, uffd.read(events), "an empty page-table entry is not write protected");
        }
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.PAGEFAULT_FLAG_WP, Feature.WP_UNPOPULATED).open();
             Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.WP);
            uffd.writeProtect(m.segment());
            Future<Void> w = write(m.segment(), 0, 1);
            assertTrue(nextFault(uffd).isWriteProtect(), "WP_UNPOPULATED protects never-touched pages too");
            uffd.writeUnprotect(m.segment(), 0);
            await(w);
        }
    }

    // ---- CONTINUE ----------------------------------------------------------------------------------

    @Test
    void continueMapsPageCacheContentsOnShmem() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MINOR_SHMEM).open();
             SharedMemory shm = Memory.shared(2 * PAGE)) {
            uffd.register(shm.view().segment(), RegisterMode.MINOR);
            shm.alias().segment().set(ValueLayout.JAVA_BYTE, PAGE, (byte) 8);
            Future<Byte> r = read(shm.view().segment(), PAGE);
            UffdEvent.PageFault pf = nextFault(uffd);
            assertTrue(pf.isMinor(), pf.toString());
            assertEquals(PAGE, uffd.continueRange(shm.view().slice(PAGE, PAGE), 0));
            assertEquals((byte) 8, await(r));
            PageExistsException e = assertThrows(PageExistsException.class, () -> uffd.continueRange(shm.view().slice(PAGE, PAGE), 0));
            assertEquals("UFFDIO_CONTINUE", e.call());
        }
    }

    @Test
    void continueOnSharedHugetlb() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_HUGETLBFS);
        TestSupport.assumeHugePages(HugePageSize.SIZE_2MB, 1);
        long huge = HugePageSize.SIZE_2MB.bytes();
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MINOR_HUGETLBFS).open();
             SharedMemory shm = Memory.sharedHugetlb(huge, HugePageSize.SIZE_2MB)) {
            uffd.register(shm.view().segment(), RegisterMode.MINOR);
            shm.alias().segment().set(ValueLayout.JAVA_BYTE, huge - 1, (byte) 11);
            Future<Byte> r = read(shm.view().segment(), huge - 1);
            assertTrue(nextFault(uffd).isMinor());
            assertEquals(huge, uffd.continueRange(shm.view().segment(), 0));
            assertEquals((byte) 11, await(r));
        }
    }

    @Test
    void continueWithWriteProtect() throws Exception {
        TestSupport.assumeFeature(Feature.MINOR_SHMEM);
        TestSupport.assumeFeature(Feature.WP_HUGETLBFS_SHMEM);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MINOR_SHMEM, Feature.PAGEFAULT_FLAG_WP, Feature.WP_HUGETLBFS_SHMEM).open();
             SharedMemory shm = Memory.shared(PAGE)) {
            uffd.register(shm.view().segment(), RegisterMode.MINOR, RegisterMode.WP);
            shm.alias().segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            uffd.continueRange(shm.view().segment(), Userfaultfd.WRITE_PROTECT);
            assertEquals((byte) 1, TestSupport.readByte(shm.view().segment(), 0));
            Future<Void> w = write(shm.view().segment(), 0, 2);
            assertTrue(nextFault(uffd).isWriteProtect(), "CONTINUE_MODE_WP mapped the page protected");
            uffd.writeUnprotect(shm.view().segment(), 0);
            await(w);
        }
    }

    // ---- POISON --------------------------------------------------------------------------------------

    @Test
    void poisonedPageRaisesInternalErrorInTheReadingThread() throws Exception {
        TestSupport.assumeFeature(Feature.POISON);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.POISON).open(); Mapping m = Memory.anonymous(2 * PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            // a thread waiting in a native-state fault is woken by POISON and its read(2) fails with EFAULT
            Future<Integer> waiting = inThread("native-reader", () -> Native.madvise(m.address(), PAGE,
                    io.github.uffd4j.internal.linux.Abi.MADV_POPULATE_READ));
            nextFault(uffd);
            assertEquals(PAGE, uffd.poison(m.slice(0, PAGE), 0));
            assertEquals(-1, await(waiting), "populating a poisoned page fails");
            // a Java load of the poisoned page takes SIGBUS, which the JVM turns into InternalError
            Future<Byte> java = inThread("java-reader", () -> m.segment().get(ValueLayout.JAVA_BYTE, 0));
            Exception e = assertThrows(Exception.class, () -> await(java));
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            assertInstanceOf(InternalError.class, cause);
            assertEquals("a fault occurred in an unsafe memory access operation", cause.getMessage());
            // the second page is untouched: it still faults normally
            Future<Byte> ok = read(m.segment(), PAGE);
            nextFault(uffd);
            uffd.zeropage(m.slice(PAGE, PAGE), 0);
            assertEquals((byte) 0, await(ok));
            PageExistsException twice = assertThrows(PageExistsException.class, () -> uffd.poison(m.slice(0, PAGE), 0));
            assertEquals("UFFDIO_POISON", twice.call());
        }
    }

    // ---- MOVE -------------------------------------------------------------------------------------------

    @Test
    void moveTransfersPagesWithoutCopying() throws Exception {
        TestSupport.assumeFeature(Feature.MOVE);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MOVE).open();
             Mapping dst = Memory.anonymous(2 * PAGE); Mapping src = Memory.anonymous(2 * PAGE)) {
            uffd.register(dst.segment(), RegisterMode.MISSING);
            src.segment().fill((byte) 12);
            Future<Byte> r = read(dst.segment(), PAGE);
            nextFault(uffd);
            assertEquals(2 * PAGE, uffd.move(dst.segment(), src.segment(), 0));
            assertEquals((byte) 12, await(r));
            assertEquals((byte) 0, TestSupport.readByte(src.segment(), 0), "the source is empty after the move");
        }
    }

    @Test
    void moveFromHolesNeedsAllowSrcHoles() {
        TestSupport.assumeFeature(Feature.MOVE);
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.MOVE).open();
             Mapping dst = Memory.anonymous(PAGE); Mapping src = Memory.anonymous(PAGE)) {
            uffd.register(dst.segment(), RegisterMode.MISSING);
            UffdException e = assertThrows(UffdException.class, () -> uffd.move(dst.segment(), src.segment(), 0));
            assertEquals("ENOENT", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("ALLOW_SRC_HOLES"), e.getMessage());
            long moved = uffd.move(dst.segment(), src.segment(), Userfaultfd.ALLOW_SRC_HOLES);
            assertEquals(PAGE, moved, "holes count as moved");
        }
    }

    @Test
    void moveNeedsTheFeatureInTheHandshake() {
        TestSupport.assumeFeature(Feature.MOVE);
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping dst = Memory.anonymous(PAGE); Mapping src = Memory.anonymous(PAGE)) {
            uffd.register(dst.segment(), RegisterMode.MISSING);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> uffd.move(dst.segment(), src.segment(), 0));
            assertTrue(e.getMessage().contains("Feature.MOVE"), e.getMessage());
        }
    }

    // ---- EAGAIN: the address space changes under a pending event -------------------------------------

    @Test
    void copyDuringAPendingRemoveEventIsEagainAndSucceedsAfterReadingIt() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMOVE).open();
             Mapping m = Memory.anonymous(2 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            MemorySegment src = TestSupport.pageOf(arena, PAGE, (byte) 1);
            uffd.copy(m.slice(0, PAGE), src);
            // madvise(DONTNEED) blocks until its REMOVE event is read; until then the mm is "changing"
            Future<Void> zap = inThread("madvise", () -> {
                m.dontNeed(0, PAGE);
                return null;
            });
            assertTrue(TestSupport.pollReadable(uffd.fd(), TestSupport.WAIT), "the REMOVE event is pending");
            AddressSpaceChangedException eagain = assertThrows(AddressSpaceChangedException.class,
                    () -> uffd.copy(m.slice(PAGE, PAGE), src));
            assertEquals(0, eagain.bytesDone());
            assertTrue(eagain != null, "UFFDIO_COPY returned EAGAIN while the REMOVE event was pending");
            assertEquals("EAGAIN", eagain.errnoName());
            assertTrue(eagain.getMessage().contains("read and apply the pending events"), eagain.getMessage());
            UffdEvent ev = uffd.nextEvent(TestSupport.WAIT).orElseThrow();
            assertInstanceOf(UffdEvent.Remove.class, ev);
            await(zap);
        }
    }
}
