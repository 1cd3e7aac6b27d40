package io.github.uffd4j;

/**
 * How a userfaultfd descriptor is created.
 *
 * <p>Immutable: thread safe.
 */
public enum CreationPath {
    /**
     * {@code /dev/userfaultfd} first, then the system call. Which path worked is reported by
     * {@link Userfaultfd#creationPath()}.
     */
    AUTO,
    /**
     * {@code ioctl(open("/dev/userfaultfd"), USERFAULTFD_IOC_NEW)} (Linux 6.1+). Allowed by the
     * device file's permissions, whatever {@code vm.unprivileged_userfaultfd} says.
     */
    DEVICE,
    /**
     * The {@code userfaultfd(2)} system call. Unprivileged callers need
     * {@code vm.unprivileged_userfaultfd=1}, CAP_SYS_PTRACE, or user-mode-only descriptors.
     */
    SYSCALL
}
