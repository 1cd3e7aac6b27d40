package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * Native memory that {@link Userfaultfd#read(EventBuffer)} fills with up to {@link #capacity()}
 * messages in one read(2). The accessors read fields in place, so a handler loop that uses them
 * allocates nothing; {@link #event(int)} decodes a message into a {@link UffdEvent} record.
 *
 * <p>An EventBuffer belongs to the thread that allocated it (its memory is in a confined arena):
 * only that thread may read into it, use it and close it. Confinement keeps {@link #close()}
 * free of the thread handshake a shared arena needs, which could not complete while another
 * thread of this JVM is blocked in a userfaultfd fault taken in Java code. Not thread safe, by
 * design: one buffer per handler thread.
 */
public final class EventBuffer implements AutoCloseable {

    /** Size of one message (struct uffd_msg). */
    public static final long MESSAGE_BYTES = Abi.UFFD_MSG_SIZE;

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final Arena arena;
    private final MemorySegment messages;
    private final int capacity;
    private final Userfaultfd[] forks;
    private int count;

    private EventBuffer(int capacity) {
        this.arena = Arena.ofConfined();
        this.messages = arena.allocate(MESSAGE_BYTES * capacity, 8);
        this.capacity = capacity;
        this.forks = new Userfaultfd[capacity];
    }

    /**
     * A buffer for up to {@code capacity} messages per read.
     *
     * @param capacity the most messages one read returns, at least 1
     * @return the buffer, owning native memory (close it)
     */
    public static EventBuffer allocate(int capacity) {
        Native.ensureAvailable();
        if (capacity < 1 || capacity > 1 << 16) {
            throw new IllegalArgumentException("capacity must be 1..65536 messages, not " + capacity);
        }
        return new EventBuffer(capacity);
    }

    /**
     * How many messages one read can return.
     *
     * @return the capacity in messages
     */
    public int capacity() {
        return capacity;
    }

    /**
     * How many messages the last read returned.
     *
     * @return the count of valid messages, from index 0
     */
    public int count() {
        return count;
    }

    /**
     * The raw messages (struct uffd_msg[capacity]).
     *
     * @return the native memory holding the messages
     */
    public MemorySegment segment() {
        return messages;
    }

    MemorySegment messages() {
        return messages;
    }

    /** Called by Userfaultfd after read(2) put {@code n} messages in the buffer. */
    void filled(int n) {
        java.util.Arrays.fill(forks, 0, Math.max(count, n), null);
        count = n;
    }

    /** The kind of message {@code i}, or null when uffd4j does not know its code. */
    EventKind kindOrNull(int i) {
        return EventKind.ofOrNull(messages.get(ValueLayout.JAVA_BYTE, base(i) + Abi.UFFD_MSG_EVENT));
    }

    /** FORK message {@code i}: the child's descriptor number as the kernel wrote it. */
    int forkDescriptor(int i) {
        return messages.get(U32, base(i) + Abi.UFFD_MSG_FORK_UFD);
    }

    /** Userfaultfd.read hands over the wrapped child of FORK message {@code i}. */
    void attachForkChild(int i, Userfaultfd child) {
        base(i);
        forks[i] = child;
    }

    private long base(int i) {
        Objects.checkIndex(i, count);
        return i * MESSAGE_BYTES;
    }

    /**
     * The kind of message {@code i}.
     *
     * @param i the message's index, below {@link #count()}
     * @return its kind
     * @throws UnknownEventException if uffd4j does not know the message's event code (a newer
     *                               kernel); the other messages stay readable
     */
    public EventKind kind(int i) {
        return EventKind.of(messages.get(ValueLayout.JAVA_BYTE, base(i) + Abi.UFFD_MSG_EVENT));
    }

    /**
     * Page fault {@code i}: the faulting address.
     *
     * @param i the message's index
     * @return the address that faulted (exact with {@link Feature#EXACT_ADDRESS}, else page aligned)
     */
    public long faultAddress(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_PF_ADDRESS);
    }

    /**
     * Page fault {@code i}: the UFFD_PAGEFAULT_FLAG_* bits.
     *
     * @param i the message's index
     * @return the flags
     */
    public long faultFlags(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_PF_FLAGS);
    }

    /**
     * Page fault {@code i}: the faulting thread's id (with {@link Feature#THREAD_ID}), else 0.
     *
     * @param i the message's index
     * @return the kernel thread id, or 0
     */
    public int faultThreadId(int i) {
        return messages.get(U32, base(i) + Abi.UFFD_MSG_PF_PTID);
    }

    /**
     * REMOVE or UNMAP {@code i}: start of the range.
     *
     * @param i the message's index
     * @return the first address of the range
     */
    public long rangeStart(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_REMOVE_START);
    }

    /**
     * REMOVE or UNMAP {@code i}: end of the range (exclusive).
     *
     * @param i the message's index
     * @return one past the last address of the range
     */
    public long rangeEnd(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_REMOVE_END);
    }

    /**
     * REMAP {@code i}: old address.
     *
     * @param i the message's index
     * @return the range's old start address
     */
    public long remapFrom(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_REMAP_FROM);
    }

    /**
     * REMAP {@code i}: new address.
     *
     * @param i the message's index
     * @return the range's new start address
     */
    public long remapTo(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_REMAP_TO);
    }

    /**
     * REMAP {@code i}: length.
     *
     * @param i the message's index
     * @return the range's length in bytes
     */
    public long remapLength(int i) {
        return messages.get(U64, base(i) + Abi.UFFD_MSG_REMAP_LEN);
    }

    /**
     * FORK {@code i}: the child's userfaultfd, already wrapped (close it when done).
     *
     * @param i the message's index
     * @return the child's userfaultfd
     */
    public Userfaultfd forkChild(int i) {
        base(i);
        Userfaultfd child = forks[i];
        if (child == null) {
            throw new IllegalStateException("message " + i + " is " + kind(i) + ", not FORK");
        }
        return child;
    }

    /**
     * Message {@code i}, decoded.
     *
     * @param i the message's index
     * @return the message as a record
     * @throws UnknownEventException if uffd4j does not know the message's event code
     */
    public UffdEvent event(int i) {
        return switch (kind(i)) {
            case PAGEFAULT -> new UffdEvent.PageFault(faultAddress(i), faultFlags(i), faultThreadId(i));
            case FORK -> new UffdEvent.Fork(forkChild(i));
            case REMAP -> new UffdEvent.Remap(remapFrom(i), remapTo(i), remapLength(i));
            case REMOVE -> new UffdEvent.Remove(rangeStart(i), rangeEnd(i));
            case UNMAP -> new UffdEvent.Unmap(rangeStart(i), rangeEnd(i));
        };
    }

    /** Frees the buffer's memory. */
    @Override
    public void close() {
        arena.close();
    }
}
