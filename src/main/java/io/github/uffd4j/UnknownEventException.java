package io.github.uffd4j;

/**
 * A message read from a userfaultfd carries an event code uffd4j does not know (a kernel newer
 * than its bindings). Thrown by {@link EventBuffer#kind(int)} and {@link EventBuffer#event(int)}
 * for that message only: the other messages of the same read stay readable, so a handler loop can
 * report it and go on serving.
 *
 * <p>Immutable: thread safe.
 */
public final class UnknownEventException extends UffdException {

    private static final long serialVersionUID = 1L;

    /** The unknown event code. */
    private final int code;

    UnknownEventException(int code) {
        super("read(userfaultfd)", 0, "unknown userfaultfd event 0x" + Integer.toHexString(code)
                + ": the kernel (" + System.getProperty("os.version") + ") is newer than uffd4j's bindings;"
                + " report it and go on with the other messages");
        this.code = code;
    }

    /**
     * The event code (uffd_msg.event) of the message.
     *
     * @return the event code
     */
    public int code() {
        return code;
    }
}
