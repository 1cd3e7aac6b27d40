package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

import java.util.EnumSet;

/**
 * The userfaultfd ioctls. The kernel reports which ones a descriptor supports after the handshake
 * ({@link Userfaultfd#ioctls()}) and which ones a registered range allows
 * ({@link Registration#ioctls()}). Immutable: thread safe.
 */
public enum Ioctl {
    /** UFFDIO_REGISTER: register a range. */
    REGISTER(Abi._UFFDIO_REGISTER, Abi.UFFDIO_REGISTER),
    /** UFFDIO_UNREGISTER: unregister a range. */
    UNREGISTER(Abi._UFFDIO_UNREGISTER, Abi.UFFDIO_UNREGISTER),
    /** UFFDIO_WAKE: wake the threads waiting on a range. */
    WAKE(Abi._UFFDIO_WAKE, Abi.UFFDIO_WAKE),
    /** UFFDIO_COPY: fill missing pages with a copy. */
    COPY(Abi._UFFDIO_COPY, Abi.UFFDIO_COPY),
    /** UFFDIO_ZEROPAGE: map zero pages. */
    ZEROPAGE(Abi._UFFDIO_ZEROPAGE, Abi.UFFDIO_ZEROPAGE),
    /** UFFDIO_MOVE: move pages in (Linux 6.8+). */
    MOVE(Abi._UFFDIO_MOVE, Abi.UFFDIO_MOVE),
    /** UFFDIO_WRITEPROTECT: write-protect or unprotect a range. */
    WRITEPROTECT(Abi._UFFDIO_WRITEPROTECT, Abi.UFFDIO_WRITEPROTECT),
    /** UFFDIO_CONTINUE: map pages already in the page cache (MINOR mode). */
    CONTINUE(Abi._UFFDIO_CONTINUE, Abi.UFFDIO_CONTINUE),
    /** UFFDIO_POISON: make pages raise SIGBUS when touched (Linux 6.6+). */
    POISON(Abi._UFFDIO_POISON, Abi.UFFDIO_POISON),
    /** UFFDIO_API: the handshake. */
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

    /**
     * The ioctl's number (_UFFDIO_*), which is also its bit position in the kernel's ioctl masks.
     *
     * @return the ioctl number
     */
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

    /**
     * The ioctls whose bits ({@code 1 << number}) are set in {@code mask}.
     *
     * @param mask a mask of {@code 1 << number} bits
     * @return the ioctls, a new set
     */
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
