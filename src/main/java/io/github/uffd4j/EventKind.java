package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;

/**
 * The kind of a message in an {@link EventBuffer} (UFFD_EVENT_*).
 *
 * <p>Immutable: thread safe.
 */
public enum EventKind {
    PAGEFAULT(Abi.UFFD_EVENT_PAGEFAULT),
    FORK(Abi.UFFD_EVENT_FORK),
    REMAP(Abi.UFFD_EVENT_REMAP),
    REMOVE(Abi.UFFD_EVENT_REMOVE),
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

    /** The UFFD_EVENT_* value. */
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
