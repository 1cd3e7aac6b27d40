package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

/**
 * The kind of a message in an {@link EventBuffer} (UFFD_EVENT_*).
 *
 * <p>Immutable: thread safe.
 */
public enum EventKind {
    /** A thread touched a registered page (UFFD_EVENT_PAGEFAULT). */
    PAGEFAULT(Abi.UFFD_EVENT_PAGEFAULT),
    /** The process forked, with {@link Feature#EVENT_FORK} (UFFD_EVENT_FORK). */
    FORK(Abi.UFFD_EVENT_FORK),
    /** A registered range was moved by mremap(2), with {@link Feature#EVENT_REMAP} (UFFD_EVENT_REMAP). */
    REMAP(Abi.UFFD_EVENT_REMAP),
    /** A registered range was zapped by madvise(2), with {@link Feature#EVENT_REMOVE} (UFFD_EVENT_REMOVE). */
    REMOVE(Abi.UFFD_EVENT_REMOVE),
    /** A registered range was unmapped, with {@link Feature#EVENT_UNMAP} (UFFD_EVENT_UNMAP). */
    UNMAP(Abi.UFFD_EVENT_UNMAP);

    private static final EventKind[] BY_CODE = new EventKind[256];

    static {
        for (EventKind k : values()) {
            BY_CODE[k.code] = k;
        }
    }

    private final int code;

    EventKind(int code) {
        this.code = code;
    }

    /**
     * The UFFD_EVENT_* value.
     *
     * @return the event code
     */
    public int code() {
        return code;
    }

    /** The kind with UFFD_EVENT_* value {@code code}, or null when uffd4j does not know it. */
    static EventKind ofOrNull(int code) {
        return BY_CODE[code & 0xff];
    }

    /** The kind with UFFD_EVENT_* value {@code code}; an {@link UnknownEventException} when uffd4j does not know it. */
    static EventKind of(int code) {
        EventKind k = ofOrNull(code);
        if (k == null) {
            throw new UnknownEventException(code & 0xff);
        }
        return k;
    }
}
