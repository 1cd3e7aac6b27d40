package io.github.uffd4j;

import io.github.uffd4j.internal.linux.TestNatives;
import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.await;
import static io.github.uffd4j.TestSupport.inThread;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading and decoding events: the non-cooperative events, batching, blocking, and the fault details. */
class EventsTest {

    private static UffdEvent next(Userfaultfd uffd) {
        return uffd.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("no event within " + TestSupport.WAIT));
    }

    @Test
    void removeEventOnMadviseDontneed() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMOVE).open();
             Mapping m = Memory.anonymous(4 * PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            uffd.copy(m.segment(), TestSupport.pageOf(arena, 4 * PAGE, (byte) 1));
            Future<Void> zap = inThread("madvise", () -> {
                m.dontNeed(PAGE, 2 * PAGE);
                return null;
            });
            UffdEvent.Remove remove = assertInstanceOf(UffdEvent.Remove.class, next(uffd));
            assertEquals(m.address() + PAGE, remove.start());
            assertEquals(m.address() + 3 * PAGE, remove.end());
            await(zap);
            // the range stays registered: the next touch faults as missing again
            Future<Byte> r = inThread("reader", () -> TestSupport.readByte(m.segment(), PAGE));
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class, next(uffd));
            assertEquals(m.address() + PAGE, pf.address());
            uffd.copy(m.slice(PAGE, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 2));
            assertEquals((byte) 2, await(r));
        }
    }

    @Test
    void unmapEventEndsTheRegistration() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_UNMAP).open()) {
            Mapping m = Memory.anonymous(2 * PAGE);
            long address = m.address();
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> unmap = inThread("munmap", () -> {
                m.close();
                return null;
            });
            UffdEvent.Unmap ev = assertInstanceOf(UffdEvent.Unmap.class, next(uffd));
            assertEquals(address, ev.start());
            assertEquals(address + 2 * PAGE, ev.end());
            await(unmap);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> uffd.wake(address, PAGE));
            assertTrue(e.getMessage().contains("registered: none"), e.getMessage());
        }
    }

    @Test
    void remapEventFollowsTheMovedRange() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMAP).open(); Arena arena = Arena.ofConfined()) {
            Mapping m = Memory.anonymous(2 * PAGE);
            // a free destination: remap(size, address) refuses to map over a live mapping
            Mapping hole = Memory.anonymous(2 * PAGE);
            long from = m.address();
            long to = hole.address();
            hole.close();
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Mapping> moved = inThread("mremap", () -> m.remap(2 * PAGE, to));
            UffdEvent.Remap remap = assertInstanceOf(UffdEvent.Remap.class, next(uffd));
            Mapping after = await(moved);
            try {
                assertEquals(from, remap.from());
                assertEquals(to, remap.to());
                assertEquals(2 * PAGE, remap.length());
                assertEquals(to, after.address());
                assertTrue(!m.isOpen(), "the old Mapping is closed by remap");
                // the registration moved: faults at the new address are reported, COPY is accepted there
                Future<Byte> r = inThread("reader", () -> TestSupport.readByte(after.segment(), 0));
                UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class, next(uffd));
                assertEquals(to, pf.address());
                uffd.copy(after.slice(0, PAGE), TestSupport.pageOf(arena, PAGE, (byte) 3));
                assertEquals((byte) 3, await(r));
                assertThrows(IllegalArgumentException.class, () -> uffd.wake(from, PAGE), "the old range is no longer registered");
            } finally {
                after.close();
            }
        }
    }

    /**
     * A moved mapping sends REMAP and then UNMAP for its old range. Read by two threads at once,
     * the UNMAP must not be tracked before the REMAP (that lost the moved range: "registered:
     * none", seen once in a full test run). Each round waits until both were read and tracked.
     */
    @Test
    void eventsReadByTwoThreadsAreTrackedInTheOrderTheKernelQueuedThem() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMAP, Feature.EVENT_UNMAP).open()) {
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong eventsRead = new java.util.concurrent.atomic.AtomicLong();
            List<Future<Void>> readers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                readers.add(inThread("reader-" + t, () -> {
                    try (EventBuffer b = EventBuffer.allocate(1)) {
                        while (!stop.get()) {
                            int n = uffd.read(b, Duration.ofMillis(20));
                            if (n > 0) {
                                Thread.yield(); // widen the window between the read and the next thread's
                                eventsRead.addAndGet(n);
                            }
                        }
                    }
                    return null;
                }));
            }
            try {
                for (int round = 0; round < 1000; round++) {
                    Mapping m = Memory.anonymous(2 * PAGE);
                    Mapping hole = Memory.anonymous(2 * PAGE);
                    long to = hole.address();
                    hole.close();
                    uffd.register(m.segment(), RegisterMode.MISSING);
                    long before = eventsRead.get();
                    Mapping moved = m.remap(2 * PAGE, to);
                    try {
                        long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
                        while (eventsRead.get() < before + 2 && System.nanoTime() < deadline) {
                            Thread.onSpinWait();
                        }
                        assertTrue(eventsRead.get() >= before + 2, "REMAP and UNMAP were not both read in round " + round);
                        uffd.wake(to, 2 * PAGE); // throws if the moved range was lost
                    } finally {
                        moved.close();
                    }
                }
            } finally {
                stop.set(true);
                for (Future<Void> r : readers) {
                    await(r);
                }
            }
        }
    }

    @Test
    void forkEventGivesAUserfaultfdForTheChild() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_FORK).open();
             Mapping m = Memory.anonymous(PAGE); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            long address = m.address();
            // the child runs strlen(address) in C and exits with the length: it faults on the page,
            // which the parent serves through the child's userfaultfd (TestNatives.cloneCalling says why C)
            MemorySegment stack = arena.allocate(64 * 1024, 16);
            // clone() blocks until its FORK event is read, so the parent reads on another thread
            Future<UffdEvent> forkEvent = inThread("fork-reader", () -> next(uffd));
            int pid = TestNatives.cloneCalling(TestNatives.strlenAddress(), stack.asSlice(stack.byteSize()), address);
            assertTrue(pid > 0, "clone failed: " + io.github.uffd4j.internal.linux.Errno.name(Native.errno()));
            try (Userfaultfd child = assertInstanceOf(UffdEvent.Fork.class, await(forkEvent)).child()) {
                assertTrue(child.fd() != uffd.fd());
                assertEquals(uffd.features(), child.features());
                UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class,
                        child.nextEvent(TestSupport.WAIT).orElseThrow(() -> new AssertionError("the child's fault")));
                assertEquals(address, pf.address());
                MemorySegment contents = TestSupport.pageOf(arena, PAGE, (byte) 'x');
                contents.set(ValueLayout.JAVA_BYTE, 42, (byte) 0); // a 42-character C string
                assertEquals(PAGE, child.copy(m.segment(), contents));
                assertEquals(42, waitForExit(pid), "the child read the page its userfaultfd served");
            }
            // the parent's page is its own and still missing
            uffd.zeropage(m.segment(), 0);
            assertEquals((byte) 0, TestSupport.readByte(m.segment(), 0));
        }
    }

    private static int waitForExit(int pid) throws InterruptedException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(ValueLayout.JAVA_INT);
            long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                int r = TestNatives.waitpid(pid, status, TestNatives.WNOHANG);
                if (r == pid) {
                    int s = status.get(ValueLayout.JAVA_INT, 0);
                    return (s & 0x7f) == 0 ? (s >> 8) & 0xff : -(s & 0x7f);
                }
                Thread.sleep(10);
            }
            TestNatives.kill(pid, TestNatives.SIGKILL);
            TestNatives.waitpid(pid, status, 0);
            throw new AssertionError("child " + pid + " did not exit");
        }
    }

    @Test
    void oneReadReturnsManyFaults() throws Exception {
        int threads = 4;
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.THREAD_ID).open();
             Mapping m = Memory.anonymous(threads * PAGE);
             EventBuffer events = EventBuffer.allocate(16)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            List<Future<Integer>> touchers = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                long offset = i * PAGE;
                touchers.add(inThread("toucher-" + i, () -> {
                    int tid = Native.gettid();
                    TestSupport.touchRead(m.address() + offset, 1);
                    return tid;
                }));
            }
            Set<Long> seen = new HashSet<>();
            Set<Integer> tids = new HashSet<>();
            int maxBatch = 0;
            long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
            while (seen.size() < threads && System.nanoTime() < deadline) {
                Thread.sleep(50); // let the faults queue up
                int n = uffd.read(events, Duration.ofSeconds(1));
                maxBatch = Math.max(maxBatch, n);
                for (int i = 0; i < n; i++) {
                    assertEquals(EventKind.PAGEFAULT, events.kind(i));
                    seen.add(events.faultAddress(i));
                    tids.add(events.faultThreadId(i));
                }
            }
            assertEquals(threads, seen.size());
            uffd.zeropage(m.segment(), 0);
            Set<Integer> expected = new HashSet<>();
            for (Future<Integer> t : touchers) {
                expected.add(await(t));
            }
            assertEquals(expected, tids, "THREAD_ID reports each faulting thread");
            assertTrue(maxBatch > 1, "several faults came back from one read (max batch " + maxBatch + ")");
        }
    }

    @Test
    void exactAddressKeepsTheOffsetInThePage() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EXACT_ADDRESS).open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> w = inThread("writer", () -> {
                TestSupport.touchWrite(m.address() + 128, 5);
                return null;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class, next(uffd));
            assertEquals(m.address() + 128, pf.address());
            assertTrue(pf.isWrite());
            uffd.zeropage(m.segment(), 0);
            await(w);
        }
    }

    @Test
    void withoutExactAddressTheFaultIsPageAligned() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> w = inThread("writer", () -> {
                TestSupport.touchWrite(m.address() + 128, 5);
                return null;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class, next(uffd));
            assertEquals(m.address(), pf.address());
            assertEquals(0, pf.threadId(), "no THREAD_ID feature: no thread id");
            uffd.zeropage(m.segment(), 0);
            await(w);
        }
    }

    @Test
    void closeWakesABlockedReader() throws Exception {
        Userfaultfd uffd = Userfaultfd.open();
        Future<Integer> reader = inThread("blocked-reader", () -> {
            try (EventBuffer events = EventBuffer.allocate(1)) {
                return uffd.read(events);
            }
        });
        assertTrue(TestSupport.stillBlocked(reader, 200), "read waits for an event");
        uffd.close();
        UffdClosedException e = assertThrows(UffdClosedException.class, () -> await(reader));
        assertTrue(e.getMessage().contains("closed while reading"), e.getMessage());
    }

    @Test
    void currentThreadIdIsTheIdAFaultReports() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.THREAD_ID).open(); Mapping m = Memory.anonymous(PAGE)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Integer> reader = inThread("reader", () -> {
                int tid = Userfaultfd.currentThreadId();
                TestSupport.touchRead(m.address(), 1);
                return tid;
            });
            UffdEvent.PageFault pf = assertInstanceOf(UffdEvent.PageFault.class, next(uffd));
            uffd.zeropage(m.segment(), 0);
            assertEquals(pf.threadId(), (int) await(reader));
        }
        // the kernel's own name for this thread: /proc/thread-self -> <pid>/task/<tid>
        String self = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/thread-self")).toString();
        assertEquals(self.substring(self.lastIndexOf('/') + 1), Integer.toString(Userfaultfd.currentThreadId()));
    }

    @Test
    void anUnknownEventCodeFailsForThatMessageOnly() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.builder().features(Feature.EVENT_REMOVE).open(); Mapping m = Memory.anonymous(2 * PAGE);
             EventBuffer events = EventBuffer.allocate(4)) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            Future<Void> zap = inThread("madvise", () -> {
                m.dontNeed(0, PAGE);
                m.dontNeed(PAGE, PAGE);
                return null;
            });
            assertEquals(1, uffd.read(events, TestSupport.WAIT));
            assertEquals(EventKind.REMOVE, events.kind(0));
            // a code this uffd4j does not know, as a newer kernel might send it
            events.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x7f);
            UnknownEventException e = assertThrows(UnknownEventException.class, () -> events.kind(0));
            assertEquals(0x7f, e.code());
            assertTrue(e.getMessage().contains("0x7f"), e.getMessage());
            assertThrows(UnknownEventException.class, () -> events.event(0));
            // the next read (one message again) decodes normally
            assertEquals(1, uffd.read(events, TestSupport.WAIT));
            assertEquals(new UffdEvent.Remove(m.address() + PAGE, m.address() + 2 * PAGE), events.event(0));
            await(zap);
        }
    }

    @Test
    void anUnknownEventLeavesTheOtherMessagesOfTheBatchReadable() throws Exception {
        try (Userfaultfd uffd = Userfaultfd.open(); Mapping m = Memory.anonymous(2 * PAGE);
             EventBuffer events = EventBuffer.allocate(4); Arena arena = Arena.ofConfined()) {
            uffd.register(m.segment(), RegisterMode.MISSING);
            java.util.concurrent.atomic.AtomicIntegerArray tids = new java.util.concurrent.atomic.AtomicIntegerArray(2);
            Future<Byte> r0 = inThread("reader0", () -> {
                tids.set(0, Userfaultfd.currentThreadId());
                return TestSupport.readByte(m.segment(), 0);
            });
            Future<Byte> r1 = inThread("reader1", () -> {
                tids.set(1, Userfaultfd.currentThreadId());
                return TestSupport.readByte(m.segment(), PAGE);
            });
            awaitInFault(tids, 0);
            awaitInFault(tids, 1);
            assertEquals(2, uffd.read(events, TestSupport.WAIT), "both faults in one read");
            long second = events.faultAddress(1);
            events.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x7f);
            assertThrows(UnknownEventException.class, () -> events.kind(0));
            assertEquals(EventKind.PAGEFAULT, events.kind(1));
            assertEquals(new UffdEvent.PageFault(second, 0, 0), events.event(1));
            uffd.copy(m.segment(), TestSupport.pageOf(arena, 2 * PAGE, (byte) 4));
            assertEquals((byte) 4, await(r0));
            assertEquals((byte) 4, await(r1));
        }
    }

    /** Waits until thread {@code tids[i]} sleeps in a userfaultfd fault (its wchan says so). */
    private static void awaitInFault(java.util.concurrent.atomic.AtomicIntegerArray tids, int i) throws Exception {
        long deadline = System.nanoTime() + TestSupport.WAIT.toNanos();
        while (System.nanoTime() < deadline) {
            int tid = tids.get(i);
            if (tid != 0) {
                java.nio.file.Path wchan = java.nio.file.Path.of("/proc/self/task/" + tid + "/wchan");
                if (java.nio.file.Files.readString(wchan).contains("userfault")) {
                    return;
                }
            }
            Thread.sleep(5);
        }
        throw new AssertionError("thread " + tids.get(i) + " never slept in a userfaultfd fault");
    }
}
