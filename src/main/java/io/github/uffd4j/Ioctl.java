package io.github.uffd4j;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Native;

import java.util.EnumSet;

/**
 * The userfaultfd ioctls. The kernel reports which ones a descriptor supports after the handshake
 * ({@link Userfaultfd#ioctls()}) and which ones a registered range allows
 * ({@link Registration#ioctls()}).
 */
public enum Ioctl {
    REGISTER(Native.constant(UffdNative::_UFFDIO_REGISTER)),
    UNREGISTER(Native.constant(UffdNative::_UFFDIO_UNREGISTER)),
    WAKE(Native.constant(UffdNative::_UFFDIO_WAKE)),
    COPY(Native.constant(UffdNative::_UFFDIO_COPY)),
    ZEROPAGE(Native.constant(UffdNative::_UFFDIO_ZEROPAGE)),
    MOVE(Native.constant(UffdNative::_UFFDIO_MOVE)),
    WRITEPROTECT(Native.constant(UffdNative::_UFFDIO_WRITEPROTECT)),
    CONTINUE(Native.constant(UffdNative::_UFFDIO_CONTINUE)),
    POISON(Native.constant(UffdNative::_UFFDIO_POISON)),
    API(Native.constant(UffdNative::_UFFDIO_API));

    private final int number;

    Ioctl(int number) {
        this.number = number;
    }

    /** The ioctl's number (_UFFDIO_*), which is also its bit position in the kernel's ioctl masks. */
    public int number() {
        return number;
    }

    /** The ioctls whose bits ({@code 1 << number}) are set in {@code mask}. */
    public static EnumSet<Ioctl> fromMask(long mask) {
        EnumSet<Ioctl> set = EnumSet.noneOf(Ioctl.class);
        for (Ioctl i : values()) {
            if ((mask & (1L << i.number)) != 0) {
                set.add(i);
            }
        }
        return set;
    }
}
