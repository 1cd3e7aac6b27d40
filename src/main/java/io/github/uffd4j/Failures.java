package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;

/** Turns a failed call into the right exception, with advice that fits the call and the errno. */
final class Failures {

    private Failures() {
    }

    static UffdException of(String call, int errno, long address, long length, long bytesDone) {
        String hint = errno == Errno.EAGAIN && bytesDone > 0
                ? "the kernel stopped after " + bytesDone + " bytes (a page further on is already present, or the address "
                  + "space is changing) and woke the threads on the part done: retry from 0x" + Long.toHexString(address + bytesDone)
                : hint(call, errno);
        if (errno == Errno.EEXIST) {
            return new PageExistsException(call, errno, address, length, bytesDone, hint);
        }
        if (errno == Errno.EAGAIN) {
            return new AddressSpaceChangedException(call, errno, address, length, bytesDone, hint);
        }
        return new UffdException(call, errno, address, length, bytesDone, hint);
    }

    static UffdException of(String call, int errno) {
        return of(call, errno, 0, 0, 0);
    }

    static UffdException withHint(String call, int errno, long address, long length, long bytesDone, String hint) {
        return new UffdException(call, errno, address, length, bytesDone, hint);
    }

    static UffdException withHint(String call, int errno, String hint) {
        return new UffdException(call, errno, 0, 0, 0, hint);
    }

    private static String hint(String call, int e) {
        boolean fill = switch (call) {
            case "UFFDIO_COPY", "UFFDIO_ZEROPAGE", "UFFDIO_CONTINUE", "UFFDIO_POISON", "UFFDIO_MOVE" -> true;
            default -> false;
        };
        if (e == Errno.EEXIST && fill) {
            return "a page in the range is already mapped (a concurrent fault was served, or the page was populated); "
                    + "the kernel did not wake the waiting threads: call wake() on the range";
        }
        if (e == Errno.EAGAIN && (fill || call.equals("UFFDIO_WRITEPROTECT"))) {
            return "the address space is changing (a REMOVE, UNMAP or REMAP event is pending): "
                    + "read and apply the pending events, then retry the rest of the range";
        }
        if (e == Errno.ENOENT && call.equals("UFFDIO_MOVE")) {
            return "the source range has unpopulated pages: pass Userfaultfd.ALLOW_SRC_HOLES, or move only populated pages";
        }
        if (e == Errno.ENOENT) {
            return "the range is not registered with this userfaultfd, or is no longer mapped";
        }
        if (e == Errno.ESRCH) {
            return "the process that owns this memory has exited";
        }
        if (e == Errno.EBUSY && call.equals("UFFDIO_MOVE")) {
            return "a page is pinned, shared (KSM, fork) or under writeback and cannot be moved: fall back to UFFDIO_COPY";
        }
        if (e == Errno.EBUSY && call.equals("UFFDIO_REGISTER")) {
            return "part of the range is already registered with another userfaultfd";
        }
        if (e == Errno.EINVAL && call.equals("UFFDIO_REGISTER")) {
            return "the range must be page aligned (huge-page aligned for hugetlb), lie in mappings that allow "
                    + "userfaultfd, and the modes must suit the memory type (MINOR needs shmem or hugetlbfs)";
        }
        if (e == Errno.EINVAL && call.equals("UFFDIO_API")) {
            return "the kernel rejected the requested features (see Userfaultfd.kernelFeatures()), "
                    + "or the handshake was already done on this descriptor";
        }
        if (e == Errno.EINVAL && call.startsWith("UFFDIO_")) {
            return "check page alignment, that the range is registered in a mode that allows this ioctl "
                    + "(Registration.ioctls()) and that the mode flags are valid for it";
        }
        if (e == Errno.EFAULT && call.equals("UFFDIO_COPY")) {
            return "the kernel could not read the source buffer: it must be mapped and readable";
        }
        if (e == Errno.EFAULT && call.equals("UFFDIO_API")) {
            return "this user-mode-only userfaultfd cannot serve faults taken inside the kernel";
        }
        if (e == Errno.ENOMEM) {
            return "out of memory, or the huge page pool is empty (see /proc/sys/vm/nr_hugepages)";
        }
        if (e == Errno.EPERM && call.equals("UFFDIO_API")) {
            return "a requested feature needs a privilege this process lacks (EVENT_FORK needs CAP_SYS_PTRACE)";
        }
        if (e == Errno.EBADF) {
            return "the descriptor is not open (was it closed elsewhere?)";
        }
        return "";
    }
}
