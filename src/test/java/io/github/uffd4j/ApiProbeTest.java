package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;
import io.github.uffd4j.internal.linux.TestNatives;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

import static io.github.uffd4j.TestSupport.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * UFFDIO_API sent with arbitrary values ({@link Userfaultfd#probeApi}), and who owns a descriptor
 * whose adoption failed ({@link Userfaultfd#adopt}).
 */
class ApiProbeTest {

    @Test
    void theRealApiValueIsAccepted() {
        assertEquals(0xAA, Userfaultfd.UFFD_API, "UFFD_API of linux/userfaultfd.h");
        ApiProbe p = Userfaultfd.probeApi(Userfaultfd.UFFD_API, 0);
        assertTrue(p.succeeded(), p.toString());
        assertEquals("OK", p.errnoName());
        assertEquals(Userfaultfd.kernelFeatures(), p.featureSet(), "features 0: the answer lists everything supported");
        assertTrue(p.ioctlSet().containsAll(Set.of(Ioctl.API, Ioctl.REGISTER, Ioctl.UNREGISTER)), p.ioctlSet().toString());
        long wp = Feature.PAGEFAULT_FLAG_WP.bit();
        ApiProbe asked = Userfaultfd.probeApi(Userfaultfd.UFFD_API, wp);
        assertTrue(asked.succeeded(), asked.toString());
        assertEquals(wp, asked.requestedFeatures());
        assertEquals(p.features(), asked.features(), "the answer lists every supported feature, not only those asked for");
    }

    @Test
    void aBogusApiValueIsEinvalNotAnException() {
        for (long api : new long[]{0xAB, 0, -1L, Userfaultfd.UFFD_API << 8}) {
            ApiProbe p = Userfaultfd.probeApi(api, 0);
            assertFalse(p.succeeded(), p.toString());
            assertEquals(Errno.EINVAL, p.errno(), p.toString());
            assertEquals("EINVAL", p.errnoName());
            assertEquals(api, p.api());
            assertEquals(0, p.features(), "the kernel clears the struct on failure");
            assertEquals(0, p.ioctls());
        }
    }

    @Test
    void anUnknownFeatureBitIsEinval() {
        long supported = Userfaultfd.probeApi(Userfaultfd.UFFD_API, 0).features();
        long unknown = Long.highestOneBit(~supported);
        assertTrue(unknown != 0 && (supported & unknown) == 0);
        ApiProbe p = Userfaultfd.probeApi(Userfaultfd.UFFD_API, unknown);
        assertEquals("EINVAL", p.errnoName(), p.toString());
        assertEquals(unknown, p.requestedFeatures());
        ApiProbe mixed = Userfaultfd.probeApi(Userfaultfd.UFFD_API, Feature.THREAD_ID.bit() | (1L << 62));
        assertEquals("EINVAL", mixed.errnoName(), "one unknown bit fails the whole request");
    }

    // ---- adopt: a failed handshake leaves the descriptor to the caller -------------------------------

    @Test
    void aFailedAdoptLeavesTheDescriptorOpenUsableAndTheCallers() throws Exception {
        try (Userfaultfd original = Userfaultfd.builder().features(Feature.THREAD_ID).open()) {
            int dup = TestNatives.dup(original.fd());
            assertTrue(dup >= 0);
            boolean adopted = false;
            try {
                // UFFDIO_API was done on this open file already: the second is refused
                UffdException e = assertThrows(UffdException.class, () -> Userfaultfd.adopt(dup, Set.of(), true));
                assertEquals("UFFDIO_API", e.call());
                assertEquals("EINVAL", e.errnoName(), e.getMessage());
                assertEquals("anon_inode:[userfaultfd]", Files.readSymbolicLink(Path.of("/proc/self/fd/" + dup)).toString(),
                        "the caller's descriptor is still open, and still the userfaultfd");
                // still the caller's, and usable: adopt it with the earlier handshake
                try (Userfaultfd again = Userfaultfd.adopt(dup, EnumSet.of(Feature.THREAD_ID), false);
                     Mapping m = Memory.anonymous(PAGE)) {
                    adopted = true;
                    again.register(m.segment(), RegisterMode.MISSING);
                    assertEquals(PAGE, again.zeropage(m.segment(), 0));
                }
                assertFalse(Files.exists(Path.of("/proc/self/fd/" + dup)) && isUserfaultfd(dup), "close() of the adopter closed it");
            } finally {
                if (!adopted) {
                    Native.close(dup);
                }
            }
        }
    }

    @Test
    void aHandshakeRefusedOnAFreshDescriptorCanBeRetriedAfterAdoptFails() throws Exception {
        long fd = Native.syscall(Abi.SYS_userfaultfd, Abi.O_CLOEXEC | Abi.O_NONBLOCK);
        Assumptions.assumeTrue(fd >= 0, () -> {
            System.out.println("SKIPPED: the userfaultfd(2) system call is refused here: " + Errno.name(Native.errno()));
            return "userfaultfd(2) refused";
        });
        int ufd = (int) fd;
        boolean adopted = false;
        try {
            ApiProbe refused = IoctlCalls.probeApi(ufd, 0xAB, 0);
            assertEquals("EINVAL", refused.errnoName());
            assertTrue(isUserfaultfd(ufd), "a refused handshake closes nothing");
            try (Userfaultfd u = Userfaultfd.adopt(ufd, Set.of(), true); Mapping m = Memory.anonymous(PAGE)) {
                adopted = true;
                assertTrue(u.register(m.segment(), RegisterMode.MISSING).allows(Ioctl.COPY));
            }
        } finally {
            if (!adopted) {
                Native.close(ufd);
            }
        }
    }

    private static boolean isUserfaultfd(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString().equals("anon_inode:[userfaultfd]");
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
