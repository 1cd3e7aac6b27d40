package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;
import io.github.uffd4j.internal.linux.NativeSockets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.Future;

import static io.github.uffd4j.TestSupport.PAGE;
import static io.github.uffd4j.TestSupport.WAIT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** UnixSocket against the kernel: descriptors passed, credentials, end of stream, close from another thread, errors. */
class UnixSocketTest {

    private static final byte[] HELLO = "hello, pager".getBytes(StandardCharsets.UTF_8);

    @Test
    void aPairPassesBytesAndAMemfdWhoseContentsTheReceiverMaps() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; SharedMemory shm = Memory.shared(2 * PAGE)) {
            MemorySegment view = shm.view().segment();
            for (long i = 0; i < view.byteSize(); i += 8) {
                view.set(ValueLayout.JAVA_LONG, i, i * 31 + 7);
            }
            a.send(HELLO, shm.fd());
            try (UnixSocket.Message m = b.receive(WAIT)) {
                assertNotNull(m);
                assertFalse(m.isEndOfStream());
                assertArrayEquals(HELLO, m.data());
                assertEquals(1, m.fdCount());
                int fd = m.takeFd(0);
                assertTrue(fd != shm.fd(), "a new descriptor for the same file");
                assertTrue(isCloseOnExec(fd), "received with MSG_CMSG_CLOEXEC");
                long address = Native.mmap(0, 2 * PAGE, Abi.PROT_READ, Abi.MAP_SHARED, fd, 0);
                assertTrue(address != -1, "mmap of the received memfd");
                try {
                    MemorySegment other = Native.segment(address, 2 * PAGE);
                    for (long i = 0; i < other.byteSize(); i += 8) {
                        assertEquals(i * 31 + 7, other.get(ValueLayout.JAVA_LONG, i), "offset " + i);
                    }
                } finally {
                    Native.munmap(address, 2 * PAGE);
                    UnixSocket.closeDescriptor(fd);
                }
            }
            // and back the other way, without descriptors
            b.send(new byte[] {42});
            try (UnixSocket.Message m = a.receive(WAIT)) {
                assertArrayEquals(new byte[] {42}, m.data());
                assertEquals(0, m.fdCount());
            }
        }
    }

    @Test
    void listenConnectAcceptAndTheKernelsViewOfThePeer(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("pager.sock");
        UnixSocket.PeerCredentials me = new UnixSocket.PeerCredentials((int) ProcessHandle.current().pid(),
                UnixSocket.currentUid(), UnixSocket.currentGid());
        try (UnixSocket.Listener listener = UnixSocket.listen(path)) {
            assertEquals(path, listener.path());
            assertTrue(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "the socket file");
            assertNull(listener.accept(Duration.ZERO), "nobody connected yet");
            try (UnixSocket client = UnixSocket.connect(path); UnixSocket server = listener.accept(WAIT)) {
                assertNotNull(server);
                assertEquals(me, client.peer());
                assertEquals(me, server.peer());
                client.send(HELLO);
                try (UnixSocket.Message m = server.receive(WAIT)) {
                    assertArrayEquals(HELLO, m.data());
                }
                int pidfd;
                try {
                    pidfd = server.peerPidfd();
                } catch (UnsupportedOperationException e) {
                    System.out.println("SKIPPED peerPidfd: " + e.getMessage());
                    Assumptions.abort(e.getMessage());
                    return;
                }
                try {
                    String info = Files.readString(Path.of("/proc/self/fdinfo/" + pidfd));
                    assertTrue(info.lines().anyMatch(l -> l.equals("Pid:\t" + me.pid())), info);
                } finally {
                    UnixSocket.closeDescriptor(pidfd);
                }
            }
        }
        assertFalse(Files.exists(path, LinkOption.NOFOLLOW_LINKS), "close deletes the socket file");
    }

    @Test
    void thePeerClosingEndsTheStreamAndSendingThenFailsWithEpipe() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]) {
            pair[1].send(HELLO);
            pair[1].close();
            pair[1].close(); // idempotent
            assertTrue(pair[1].isClosed());
            assertArrayEquals(HELLO, a.receive(WAIT).data(), "queued messages come first");
            UnixSocket.Message end = a.receive(WAIT);
            assertTrue(end.isEndOfStream());
            assertEquals(0, end.fdCount());
            // MSG_NOSIGNAL: no SIGPIPE takes the JVM down
            UffdException e = assertThrows(UffdException.class, () -> a.send(HELLO));
            assertEquals("sendmsg", e.call());
            assertEquals("EPIPE", e.errnoName(), e.getMessage());
            assertThrows(UffdClosedException.class, () -> pair[1].send(HELLO));
            assertThrows(UffdClosedException.class, () -> pair[1].receive(Duration.ZERO));
        }
    }

    @Test
    void aReceiveTimesOutPromptly() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            assertNull(a.receive(Duration.ZERO));
            long t0 = System.nanoTime();
            assertNull(a.receive(Duration.ofMillis(100)));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms >= 90 && ms < 2_000, ms + " ms");
        }
    }

    @Test
    void closeFromAnotherThreadWakesABlockedReceiveAndAccept(@TempDir Path dir) throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket other = pair[1]) {
            Future<UnixSocket.Message> receiving = TestSupport.inThread("receive", () -> pair[0].receive(Duration.ofDays(1)));
            assertTrue(TestSupport.stillBlocked(receiving, 200));
            pair[0].close();
            UffdClosedException e = assertThrows(UffdClosedException.class, () -> TestSupport.await(receiving));
            assertTrue(e.getMessage().contains("receiving"), e.getMessage());
        }
        UnixSocket.Listener listener = UnixSocket.listen(dir.resolve("s"));
        Future<UnixSocket> accepting = TestSupport.inThread("accept", () -> listener.accept(Duration.ofDays(1)));
        assertTrue(TestSupport.stillBlocked(accepting, 200));
        listener.close();
        assertThrows(UffdClosedException.class, () -> TestSupport.await(accepting));
        assertThrows(UffdClosedException.class, () -> listener.accept(Duration.ZERO));
        assertFalse(Files.exists(dir.resolve("s"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void connectingWhereNobodyListensNamesTheCallAndTheErrno(@TempDir Path dir) throws IOException {
        UffdException missing = assertThrows(UffdException.class, () -> UnixSocket.connect(dir.resolve("absent")));
        assertEquals("connect", missing.call());
        assertEquals("ENOENT", missing.errnoName(), missing.getMessage());
        // a socket file whose listener is gone (Java's channels leave the file behind)
        Path stale = dir.resolve("stale");
        ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(stale)).close();
        UffdException refused = assertThrows(UffdException.class, () -> UnixSocket.connect(stale));
        assertEquals("ECONNREFUSED", refused.errnoName(), refused.getMessage());
        assertTrue(refused.getMessage().contains("nobody listens"), refused.getMessage());
    }

    @Test
    void listeningTwiceOnOnePathFailsWithEaddrinuseAndLeavesTheFirstListening(@TempDir Path dir) {
        Path path = dir.resolve("s");
        try (UnixSocket.Listener first = UnixSocket.listen(path)) {
            UffdException e = assertThrows(UffdException.class, () -> UnixSocket.listen(path));
            assertEquals("bind", e.call());
            assertEquals("EADDRINUSE", e.errnoName(), e.getMessage());
            assertTrue(e.getMessage().contains("a file already exists"), e.getMessage());
            try (UnixSocket c = UnixSocket.connect(path); UnixSocket s = first.accept(WAIT)) {
                assertNotNull(s);
            }
        }
    }

    @Test
    void argumentsAreCheckedBeforeTheKernel() {
        Path tooLong = Path.of("a".repeat(108));
        assertThrows(IllegalArgumentException.class, () -> UnixSocket.connect(tooLong));
        assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(tooLong));
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            assertThrows(IllegalArgumentException.class, () -> a.send(new byte[0]));
            assertThrows(IllegalArgumentException.class, () -> a.send(new byte[UnixSocket.MAX_MESSAGE + 1]));
            int[] seventeen = new int[UnixSocket.MAX_DESCRIPTORS + 1];
            Arrays.fill(seventeen, b.fd());
            assertThrows(IllegalArgumentException.class, () -> a.send(HELLO, seventeen));
            assertThrows(IllegalArgumentException.class, () -> a.receive(Duration.ofMillis(-1)));
            // the limits themselves pass
            a.send(new byte[UnixSocket.MAX_MESSAGE], Arrays.copyOf(seventeen, UnixSocket.MAX_DESCRIPTORS));
            try (UnixSocket.Message m = b.receive(WAIT)) {
                assertEquals(UnixSocket.MAX_MESSAGE, m.data().length);
                assertEquals(UnixSocket.MAX_DESCRIPTORS, m.fdCount());
            }
        }
    }

    @Test
    void aMessageBeyondTheLimitsIsReportedTruncatedAndItsDescriptorsClosed() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; SharedMemory shm = Memory.shared(PAGE)) {
            int[] seventeen = new int[UnixSocket.MAX_DESCRIPTORS + 1];
            Arrays.fill(seventeen, shm.fd());
            long before = openDescriptors();
            rawSend(a.fd(), HELLO, seventeen);
            UffdException e = assertThrows(UffdException.class, () -> b.receive(WAIT));
            assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("MSG_CTRUNC"), e.getMessage());
            assertEquals(before, openDescriptors(), "the descriptors that arrived were closed");

            rawSend(a.fd(), new byte[UnixSocket.MAX_MESSAGE + 1], new int[] {shm.fd()});
            e = assertThrows(UffdException.class, () -> b.receive(WAIT));
            assertTrue(e.getMessage().contains("MSG_TRUNC"), e.getMessage());
            assertEquals(before, openDescriptors());

            a.send(HELLO); // the stream goes on
            try (UnixSocket.Message m = b.receive(WAIT)) {
                assertArrayEquals(HELLO, m.data());
            }
        }
    }

    @Test
    void closingAMessageClosesTheDescriptorsNotTaken() {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; SharedMemory shm = Memory.shared(PAGE)) {
            Set<Integer> before = memfds();
            a.send(HELLO, shm.fd(), shm.fd());
            UnixSocket.Message m = b.receive(WAIT);
            Set<Integer> received = memfds();
            received.removeAll(before);
            assertEquals(2, received.size(), "two new descriptors: " + received);
            int kept = m.takeFd(0);
            assertTrue(received.contains(kept));
            assertThrows(IllegalStateException.class, () -> m.takeFd(0));
            assertThrows(IndexOutOfBoundsException.class, () -> m.takeFd(2));
            m.close();
            Set<Integer> after = memfds();
            after.removeAll(before);
            assertEquals(Set.of(kept), after, "the descriptor not taken was closed, the taken one stays open");
            assertThrows(IllegalStateException.class, () -> m.takeFd(1));
            m.close(); // idempotent
            UnixSocket.closeDescriptor(kept);
            assertFalse(isMemfd(kept));
        }
    }

    @Test
    void aSenderWaitsWhileThePeersQueueIsFullAndCloseWakesIt() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            int count = 64; // 4 MiB: far beyond the socket buffers, so the sender has to wait for the reader
            Future<Integer> sending = TestSupport.inThread("send", () -> {
                byte[] data = new byte[UnixSocket.MAX_MESSAGE];
                for (int i = 0; i < count; i++) {
                    Arrays.fill(data, (byte) i);
                    a.send(data);
                }
                return count;
            });
            for (int i = 0; i < count; i++) {
                try (UnixSocket.Message m = b.receive(WAIT)) {
                    byte[] expected = new byte[UnixSocket.MAX_MESSAGE];
                    Arrays.fill(expected, (byte) i);
                    assertArrayEquals(expected, m.data(), "message " + i);
                }
            }
            assertEquals(count, TestSupport.await(sending));

            Future<Integer> blocked = TestSupport.inThread("send forever", () -> {
                for (;;) {
                    a.send(new byte[UnixSocket.MAX_MESSAGE]);
                }
            });
            assertTrue(TestSupport.stillBlocked(blocked, 300));
            a.close();
            UffdClosedException e = assertThrows(UffdClosedException.class, () -> TestSupport.await(blocked));
            assertTrue(e.getMessage().contains("sending"), e.getMessage());
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------

    /** The descriptors of this process that are open on a memfd. */
    private static Set<Integer> memfds() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            Set<Integer> fds = new HashSet<>();
            s.map(p -> Integer.parseInt(p.getFileName().toString())).filter(UnixSocketTest::isMemfd).forEach(fds::add);
            return fds;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean isMemfd(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString().startsWith("/memfd:");
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean isCloseOnExec(int fd) {
        try {
            String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd)).stream()
                    .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
            return (Long.parseLong(flags.substring(6).strip(), 8) & 02000000) != 0;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static long openDescriptors() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    /** sendmsg without UnixSocket's limits: one SCM_RIGHTS message with any number of descriptors and bytes. */
    private static void rawSend(int fd, byte[] data, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(data.length);
            MemorySegment iov = arena.allocate(Abi.IOVEC_SIZE, 8);
            Native.iovec(iov, 0, buffer.address(), data.length);
            long space = Abi.cmsgSpace(4L * fds.length);
            MemorySegment control = arena.allocate(space, 8);
            control.set(ValueLayout.JAVA_LONG, Abi.CMSGHDR_LEN, Abi.cmsgLen(4L * fds.length));
            control.set(ValueLayout.JAVA_INT, Abi.CMSGHDR_LEVEL, Abi.SOL_SOCKET);
            control.set(ValueLayout.JAVA_INT, Abi.CMSGHDR_TYPE, Abi.SCM_RIGHTS);
            MemorySegment.copy(fds, 0, control, ValueLayout.JAVA_INT, Abi.CMSG_DATA, fds.length);
            MemorySegment msg = arena.allocate(Abi.MSGHDR_SIZE, 8);
            msg.set(ValueLayout.ADDRESS, Abi.MSGHDR_IOV, iov);
            msg.set(ValueLayout.JAVA_LONG, Abi.MSGHDR_IOVLEN, 1L);
            msg.set(ValueLayout.ADDRESS, Abi.MSGHDR_CONTROL, control);
            msg.set(ValueLayout.JAVA_LONG, Abi.MSGHDR_CONTROLLEN, space);
            long n = NativeSockets.sendmsg(fd, msg, Abi.MSG_NOSIGNAL);
            assertEquals(data.length, n, "sendmsg errno " + Native.errno());
        }
    }
}
