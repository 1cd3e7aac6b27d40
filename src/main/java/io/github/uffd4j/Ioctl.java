package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

import java.util.EnumSet;

/**
 * The userfaultfd ioctls. The kernel reports which ones a descriptor supports after the handshake
 * ({@link Userfaultfd#ioctls()}) and which ones a registered range allows
 * ({@link Registration#ioctls()}). Immutable: thread safe.
 */
public enum Ioctl {
    REGISTER(Abi._UFFDIO_REGISTER, Abi.UFFDIO_REGISTER),
    UNREGISTER(Abi._UFFDIO_UNREGISTER, Abi.UFFDIO_UNREGISTER),
    WAKE(Abi._UFFDIO_WAKE, Abi.UFFDIO_WAKE),
    COPY(Abi._UFFDIO_COPY, Abi.UFFDIO_COPY),
    ZEROPAGE(Abi._UFFDIO_ZEROPAGE, Abi.UFFDIO_ZEROPAGE),
    MOVE(Abi._UFFDIO_MOVE, Abi.UFFDIO_MOVE),
    WRITEPROTECT(Abi._UFFDIO_WRITEPROTECT, Abi.UFFDIO_WRITEPROTECT),
    CONTINUE(Abi._UFFDIO_CONTINUE, Abi.UFFDIO_CONTINUE),
    POISON(Abi._UFFDIO_POISON, Abi.UFFDIO_POISON),
    API(Abi._UFFDIO_API, Abi.UFFDIO_API);

    private final int number;
    private final long request;
    private final String call;

    Ioctl(int number, long request) {
        this.number = number;
        this.request = request;
        this.call = "UFFDIO_" + name();
    }

    /**
     * Whether the ioctl neither sleeps nor reads user memory other than its argument struct, so
     * it may be made as a critical downcall (no Java-to-native thread transition; a safepoint
     * waits for it). Only WAKE: it takes the wait queue's spin lock and returns. COPY may fault on
     * its source (which another handler in this JVM could serve), and the others take the mmap
     * lock, which can sleep.
     */
    boolean isShortCall() {
        return this == WAKE;
    }

    /** The ioctl's number (_UFFDIO_*), which is also its bit position in the kernel's ioctl masks. */
    public int number() {
        return number;
    }

    /** The request code passed to ioctl(2) (UFFDIO_*). */
    long request() {
        return request;
    }

    /** The name a {@link UffdException#call()} gives it: "UFFDIO_COPY". */
    String call() {
        return call;
    }

    /**
     * Whether the ioctl installs pages and reports how much it did (COPY, ZEROPAGE, CONTINUE,
     * POISON, MOVE): a failure can come after partial progress. The others are all or nothing.
     */
    boolean reportsProgress() {
        return this == COPY || this == ZEROPAGE || this == CONTINUE || this == POISON || this == MOVE;
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
