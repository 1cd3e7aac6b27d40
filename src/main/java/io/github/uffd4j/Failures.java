package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;

/**
 * Turns a failed call into the right exception type, with advice chosen by what failed: the
 * {@link Ioctl} for the userfaultfd ioctls, the errno alone for the other system calls (whose
 * callers add their own advice where they know better).
 */
final class Failures {

    private Failures() {
    }

    /** A failed userfaultfd ioctl on {@code [address, address + length)}, {@code bytesDone} of it done. */
    static UffdException of(Ioctl ioctl, int errno, long address, long length, long bytesDone) {
        return of(ioctl, errno, address, length, bytesDone, UffdException.NO_RESULT);
    }

    /**
     * A failed userfaultfd ioctl whose struct has a count field: {@code kernelResult} is what the
     * kernel wrote there ({@link UffdException#NO_RESULT} when nothing).
     */
    static UffdException of(Ioctl ioctl, int errno, long address, long length, long bytesDone, long kernelResult) {
        String call = ioctl.call();
        String hint = errno == Errno.EAGAIN && bytesDone > 0
                ? "the kernel stopped after " + bytesDone + " bytes (a page further on is already present, or the address "
                  + "space is changing) and woke the threads on the part done: retry from 0x" + Long.toHexString(address + bytesDone)
                : hint(ioctl, errno);
        if (errno == Errno.EEXIST) {
            return new PageExistsException(call, errno, address, length, bytesDone, hint, kernelResult);
        }
        if (errno == Errno.EAGAIN) {
            return new AddressSpaceChangedException(call, errno, address, length, bytesDone, hint, kernelResult);
        }
        return new UffdException(call, errno, address, length, bytesDone, hint, kernelResult);
    }

    /** A failed system call other than a userfaultfd ioctl ("mmap", "eventfd", ...). */
    static UffdException of(String call, int errno, long address, long length) {
        return new UffdException(call, errno, address, length, 0, common(errno));
    }

    static UffdException of(String call, int errno) {
        return of(call, errno, 0, 0);
    }

    static UffdException withHint(String call, int errno, long address, long length, long bytesDone, String hint) {
        return new UffdException(call, errno, address, length, bytesDone, hint);
    }

    static UffdException withHint(String call, int errno, String hint) {
        return new UffdException(call, errno, 0, 0, 0, hint);
    }

    /**
     * A failed socket call of {@link UnixSocket} ("connect", "bind", "sendmsg", ...), with advice
     * about {@code path} (the socket file; null for a socket pair or a connected socket).
     */
    static UffdException socket(String call, int e, java.nio.file.Path path) {
        String at = path == null ? "the socket" : path.toString();
        String hint;
        if (e == Errno.EADDRINUSE) {
            hint = "a file already exists at " + at + " (a socket file left by a listener that did not close, or one "
                    + "that is listening): remove it when no process listens there";
        } else if (e == Errno.ECONNREFUSED) {
            hint = "nobody listens on " + at + " (the socket file may be left from a listener that is gone)";
        } else if (e == Errno.ENOENT) {
            hint = call.equals("connect") ? "there is no socket file at " + at + ": is the listener started?"
                    : "the directory of " + at + " does not exist";
        } else if (e == Errno.EACCES || e == Errno.EPERM) {
            hint = call.equals("bind")
                    ? "this user may not create a file in the directory of " + at + " (check the directory's permissions)"
                    : "connecting needs write permission on the socket file " + at + " and search permission on its directories";
        } else if (e == Errno.EPIPE || e == Errno.ECONNRESET) {
            hint = "the peer closed its end of the socket";
        } else if (e == Errno.ENOTCONN) {
            hint = "the socket is not connected";
        } else {
            hint = common(e);
        }
        return new UffdException(call, e, 0, 0, 0, hint);
    }

    private static String hint(Ioctl ioctl, int e) {
        if (e == Errno.EEXIST && ioctl.reportsProgress()) {
            return "a page in the range is already mapped (a concurrent fault was served, or the page was populated); "
                    + "the kernel did not wake the waiting threads: call wake() on the range";
        }
        if (e == Errno.EAGAIN && (ioctl.reportsProgress() || ioctl == Ioctl.WRITEPROTECT)) {
            return "the address space is changing (a REMOVE, UNMAP or REMAP event is pending): "
                    + "read and apply the pending events, then retry the range";
        }
        return switch (ioctl) {
            case MOVE -> e == Errno.ENOENT
                    ? "the source range has unpopulated pages: pass Userfaultfd.ALLOW_SRC_HOLES, or move only populated pages"
                    : e == Errno.EBUSY
                    ? "a page is pinned, shared (KSM, fork) or under writeback and cannot be moved: fall back to UFFDIO_COPY"
                    : ranged(e);
            case REGISTER -> e == Errno.EBUSY
                    ? "part of the range is already registered with another userfaultfd"
                    : e == Errno.EINVAL
                    ? "the range must be page aligned (huge-page aligned for hugetlb), lie in mappings that allow "
                      + "userfaultfd, and the modes must suit the memory type (MINOR needs shmem or hugetlbfs)"
                    : ranged(e);
            case API -> e == Errno.EINVAL
                    ? "the kernel rejected the requested features (see Userfaultfd.kernelFeatures()), "
                      + "or the handshake was already done on this descriptor"
                    : e == Errno.EFAULT
                    ? "this user-mode-only userfaultfd cannot serve faults taken inside the kernel"
                    : e == Errno.EPERM
                    ? "a requested feature needs a privilege this process lacks (EVENT_FORK needs CAP_SYS_PTRACE)"
                    : common(e);
            case COPY -> e == Errno.EFAULT
                    ? "the kernel could not read the source buffer: it must be mapped and readable"
                    : ranged(e);
            default -> ranged(e);
        };
    }

    /** Advice for a range ioctl's errno that does not depend on which ioctl it was. */
    private static String ranged(int e) {
        if (e == Errno.ENOENT) {
            return "the range is not registered with this userfaultfd, or is no longer mapped";
        }
        if (e == Errno.ESRCH) {
            return "the process that owns this memory has exited";
        }
        if (e == Errno.EINVAL) {
            return "check page alignment, that the range is registered in a mode that allows this ioctl "
                    + "(Registration.ioctls()) and that the mode flags are valid for it";
        }
        return common(e);
    }

    private static String common(int e) {
        if (e == Errno.ENOMEM) {
            return "out of memory, or the huge page pool is empty (see /proc/sys/vm/nr_hugepages)";
        }
        if (e == Errno.EBADF) {
            return "the descriptor is not open (was it closed elsewhere?)";
        }
        if (e == Errno.EMFILE || e == Errno.ENFILE) {
            return "too many open files (raise the descriptor limit, or look for a descriptor leak)";
        }
        return "";
    }
}
