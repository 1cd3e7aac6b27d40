package io.github.uffd4j;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * A range registered with a userfaultfd.
 *
 * <p>Immutable: thread safe.
 *
 * @param address start of the range
 * @param length  length of the range in bytes
 * @param modes   the modes it was registered with
 * @param ioctls  the range ioctls the kernel allows on it (depends on the memory type and modes)
 */
public record Registration(long address, long length, Set<RegisterMode> modes, Set<Ioctl> ioctls) {

    /** Keeps unmodifiable copies of {@code modes} and {@code ioctls}. */
    public Registration {
        modes = Collections.unmodifiableSet(modes.isEmpty() ? EnumSet.noneOf(RegisterMode.class) : EnumSet.copyOf(modes));
        ioctls = Collections.unmodifiableSet(ioctls.isEmpty() ? EnumSet.noneOf(Ioctl.class) : EnumSet.copyOf(ioctls));
    }

    /**
     * Whether {@code ioctl} may be used on this range.
     *
     * @param ioctl the ioctl to ask about
     * @return true when the kernel reported it for this range
     */
    public boolean allows(Ioctl ioctl) {
        return ioctls.contains(ioctl);
    }

    /**
     * One past the last byte of the range.
     *
     * @return {@code address + length}
     */
    public long end() {
        return address + length;
    }
}
