package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Creating a userfaultfd and saying why it failed: {@code /dev/userfaultfd} or the system call
 * (each refused for its own reasons, each explained with the sysctl, capability or device
 * permission that would fix it), and the UFFDIO_API handshake. ({@link Availability} probes
 * once what the kernel supports.) Stateless: thread safe.
 */
final class UffdOpener {

    private static final String DEVICE = "/dev/userfaultfd";

    private UffdOpener() {
    }

    /** A descriptor and how it was made. */
    record Created(int fd, CreationPath path) {
    }

    /** Creates a descriptor (no handshake yet) by {@code path}, falling back as AUTO says. */
    static Created create(CreationPath path, int flags) {
        return create(path, flags, (flags & Abi.UFFD_USER_MODE_ONLY) == 0);
    }

    /**
     * Creates a descriptor by {@code path}; when refused, the advice names user-mode-only
     * descriptors only if {@code suggestUserModeOnly} (a caller that cannot use one said so).
     */
    static Created create(CreationPath path, int flags, boolean suggestUserModeOnly) {
        int deviceErrno = 0;
        int syscallErrno = 0;
        if (path != CreationPath.SYSCALL) {
            int dev = Native.open(DEVICE, Abi.O_RDWR | Abi.O_CLOEXEC);
            if (dev >= 0) {
                int fd = Native.ioctl(dev, Abi.USERFAULTFD_IOC_NEW, flags);
                deviceErrno = fd < 0 ? Native.errno() : 0;
                Native.close(dev);
                if (fd >= 0) {
                    return new Created(fd, CreationPath.DEVICE);
                }
            } else {
                deviceErrno = Native.errno();
            }
        }
        if (path != CreationPath.DEVICE) {
            long fd = Native.syscall(Abi.SYS_userfaultfd, flags);
            if (fd >= 0) {
                return new Created((int) fd, CreationPath.SYSCALL);
            }
            syscallErrno = Native.errno();
        }
        throw openFailure(path, suggestUserModeOnly, deviceErrno, syscallErrno);
    }

    /**
     * UFFDIO_API on {@code fd} asking for {@code wanted}: the ioctls the kernel then allows. With
     * {@code ownsFd} (a descriptor uffd4j just created) a failure closes it; otherwise (an adopted
     * one) it stays the caller's.
     */
    static Set<Ioctl> handshake(int fd, Set<Feature> wanted, boolean ownsFd) {
        try {
            return Ioctl.fromMask(IoctlCalls.api(fd, Feature.toMask(wanted)).ioctls());
        } catch (UffdException e) {
            if (ownsFd) {
                Native.close(fd);
            }
            if (e.errno() == Errno.EINVAL && !wanted.isEmpty()) {
                EnumSet<Feature> missing = EnumSet.copyOf(wanted);
                missing.removeAll(Availability.kernelFeatures());
                if (!missing.isEmpty()) {
                    throw Failures.withHint("UFFDIO_API", e.errno(), "this kernel (" + System.getProperty("os.version")
                            + ") lacks the requested features " + missing + describeSince(missing));
                }
            }
            throw e;
        }
    }

    private static String describeSince(Set<Feature> missing) {
        StringBuilder s = new StringBuilder(" (");
        for (Feature f : missing) {
            if (s.length() > 2) {
                s.append(", ");
            }
            s.append(f).append(" needs Linux ").append(f.sinceKernel());
        }
        return s.append(')').toString();
    }

    // ---- diagnostics ------------------------------------------------------------------------------

    private static UffdException openFailure(CreationPath path, boolean suggestUserModeOnly, int deviceErrno, int syscallErrno) {
        List<String> reasons = new ArrayList<>();
        if (deviceErrno != 0) {
            reasons.add(DEVICE + ": " + Errno.name(deviceErrno) + " (" + Errno.describe(deviceErrno) + "): "
                    + deviceAdvice(deviceErrno));
        }
        if (syscallErrno != 0) {
            reasons.add("userfaultfd(2): " + Errno.name(syscallErrno) + " (" + Errno.describe(syscallErrno) + "): "
                    + syscallAdvice(syscallErrno, suggestUserModeOnly));
        }
        int errno = syscallErrno != 0 ? syscallErrno : deviceErrno;
        return Failures.withHint("open userfaultfd (" + path + ")", errno,
                "no creation path worked. " + String.join("; ", reasons));
    }

    private static String deviceAdvice(int errno) {
        if (errno == Errno.ENOENT) {
            return "the device does not exist (Linux older than 6.1, or a container started without --device /dev/userfaultfd)";
        }
        if (errno == Errno.EACCES || errno == Errno.EPERM) {
            return "this user may not open it (" + describeFile(DEVICE)
                    + "); grant access with a group or udev rule (e.g. chmod 0660 and chgrp to a group of this user)";
        }
        return "the device could not be used";
    }

    private static String syscallAdvice(int errno, boolean suggestUserModeOnly) {
        if (errno == Errno.EPERM) {
            String sysctl = readSysctl("/proc/sys/vm/unprivileged_userfaultfd");
            return "refused: vm.unprivileged_userfaultfd is " + sysctl + " and the process lacks CAP_SYS_PTRACE"
                    + "; set 'sysctl -w vm.unprivileged_userfaultfd=1', grant CAP_SYS_PTRACE"
                    + (suggestUserModeOnly ? ", or open with userModeOnly(true)" : "")
                    + "; inside a container, the default seccomp profile also refuses it unless CAP_SYS_PTRACE is added"
                    + " (--cap-add SYS_PTRACE, or a seccomp profile that allows userfaultfd)";
        }
        if (errno == Errno.ENOSYS) {
            return "the kernel has no userfaultfd (CONFIG_USERFAULTFD is off) or a seccomp filter hides the system call";
        }
        if (errno == Errno.EMFILE || errno == Errno.ENFILE) {
            return "too many open files (raise the descriptor limit)";
        }
        return "the system call failed";
    }

    private static String readSysctl(String file) {
        try {
            return Files.readString(Path.of(file)).strip();
        } catch (IOException | RuntimeException e) {
            return "unknown (" + file + " unreadable)";
        }
    }

    private static String describeFile(String file) {
        try {
            Path p = Path.of(file);
            return file + " is " + PosixFilePermissions.toString(Files.getPosixFilePermissions(p))
                    + " owned by " + Files.getOwner(p).getName();
        } catch (IOException | RuntimeException e) {
            return file + " permissions unknown";
        }
    }
}
