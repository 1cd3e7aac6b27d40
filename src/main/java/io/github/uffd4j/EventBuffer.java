package io.github.uffd4j;

import io.github.uffd4j.internal.gen.uffd_msg;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * Native memory that {@link Userfaultfd#read(EventBuffer)} fills with up to {@link #capacity()}
 * messages in one read(2). The accessors read fields in place, so a handler loop that uses them
 * allocates nothing; {@link #event(int)} decodes a message into a {@link UffdEvent} record.
 *
 * <p>An EventBuffer may be used by one thread at a time. Close it to free its memory.
 */
public final class EventBuffer implements AutoCloseable {

    /** Size of one message (struct uffd_msg). */
    public static final long MESSAGE_BYTES = uffd_msg.layout().byteSize();

    private static final long EVENT = offset(groupElement("event"));
    private static final long PF_FLAGS = offset(groupElement("arg"), groupElement("pagefault"), groupElement("flags"));
    private static final long PF_ADDRESS = offset(groupElement("arg"), groupElement("pagefault"), groupElement("address"));
    private static final long PF_PTID = offset(groupElement("arg"), groupElement("pagefault"), groupElement("feat"), groupElement("ptid"));
    private static final long FORK_UFD = offset(groupElement("arg"), groupElement("fork"), groupElement("ufd"));
    private static final long REMAP_FROM = offset(groupElement("arg"), groupElement("remap"), groupElement("from"));
    private static final long REMAP_TO = offset(groupElement("arg"), groupElement("remap"), groupElement("to"));
    private static final long REMAP_LEN = offset(groupElement("arg"), groupElement("remap"), groupElement("len"));
    private static final long REMOVE_START = offset(groupElement("arg"), groupElement("remove"), groupElement("start"));
    private static final long REMOVE_END = offset(groupElement("arg"), groupElement("remove"), groupElement("end"));

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private static long offset(PathElement... path) {
        return uffd_msg.layout().byteOffset(path);
    }

    private final Arena arena;
    private final MemorySegment messages;
    private final int capacity;
    private final Userfaultfd[] forks;
    private int count;

    private EventBuffer(int capacity) {
        this.arena = Arena.ofShared();
        this.messages = arena.allocate(MESSAGE_BYTES * capacity, 8);
        this.capacity = capacity;
        this.forks = new Userfaultfd[capacity];
    }

    /** A buffer for up to {@code capacity} messages per read. */
    public static EventBuffer allocate(int capacity) {
        if (capacity < 1 || capacity > 1 << 16) {
            throw new IllegalArgumentException("capacity must be 1..65536 messages, not " + capacity);
        }
        return new EventBuffer(capacity);
    }

    /** How many messages one read can return. */
    public int capacity() {
        return capacity;
    }

    /** How many messages the last read returned. */
    public int count() {
        return count;
    }

    /** The raw messages (struct uffd_msg[capacity]). */
    public MemorySegment segment() {
        return messages;
    }

    MemorySegment messages() {
        return messages;
    }

    /** Called by Userfaultfd after read(2) put {@code n} messages in the buffer. */
    void filled(int n, Userfaultfd source) {
        count = n;
        for (int i = 0; i < n; i++) {
            forks[i] = kind(i) == EventKind.FORK ? source.adoptForkChild(messages.get(U32, base(i) + FORK_UFD)) : null;
        }
    }

    private long base(int i) {
        Objects.checkIndex(i, count);
        return i * MESSAGE_BYTES;
    }

    /** The kind of message {@code i}. */
    public EventKind kind(int i) {
        return EventKind.of(messages.get(ValueLayout.JAVA_BYTE, base(i) + EVENT));
    }

    /** Page fault {@code i}: the faulting address. */
    public long faultAddress(int i) {
        return messages.get(U64, base(i) + PF_ADDRESS);
    }

    /** Page fault {@code i}: the UFFD_PAGEFAULT_FLAG_* bits. */
    public long faultFlags(int i) {
        return messages.get(U64, base(i) + PF_FLAGS);
    }

    /** Page fault {@code i}: the faulting thread's id (with {@link Feature#THREAD_ID}), else 0. */
    public int faultThreadId(int i) {
        return messages.get(U32, base(i) + PF_PTID);
    }

    /** REMOVE or UNMAP {@code i}: start of the range. */
    public long rangeStart(int i) {
        return messages.get(U64, base(i) + REMOVE_START);
    }

    /** REMOVE or UNMAP {@code i}: end of the range (exclusive). */
    public long rangeEnd(int i) {
        return messages.get(U64, base(i) + REMOVE_END);
    }

    /** REMAP {@code i}: old address. */
    public long remapFrom(int i) {
        return messages.get(U64, base(i) + REMAP_FROM);
    }

    /** REMAP {@code i}: new address. */
    public long remapTo(int i) {
        return messages.get(U64, base(i) + REMAP_TO);
    }

    /** REMAP {@code i}: length. */
    public long remapLength(int i) {
        return messages.get(U64, base(i) + REMAP_LEN);
    }

    /** FORK {@code i}: the child's userfaultfd, already wrapped (close it when done). */
    public Userfaultfd forkChild(int i) {
        base(i);
        Userfaultfd child = forks[i];
        if (child == null) {
            throw new IllegalStateException("message " + i + " is " + kind(i) + ", not FORK");
        }
        return child;
    }

    /** Message {@code i}, decoded. */
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
