package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The userfaultfd ioctl structs and their marshalling: each call fills the struct in the calling
 * thread's scratch buffer (one ThreadLocal lookup, only the struct's own bytes zeroed), makes the
 * ioctl, and turns the outcome into bytes done or a {@link UffdException}. Stateless: thread safe,
 * allocation-free unless the call fails. The caller keeps the descriptor open meanwhile (see
 * {@link CloseGate}).
 */
final class IoctlCalls {

    private IoctlCalls() {
    }

    /**
     * Where an ioctl struct keeps its fields: its size, the range (start and len, or dst/src/len),
     * the mode and the signed count the kernel writes back; -1 where the struct has no such field.
     */
    record Struct(long size, long start, long src, long len, long mode, long result) {

        /** A struct that embeds {@code struct uffdio_range range} at {@code range}, then {@code mode} and the count. */
        static Struct ranged(long size, long range, long mode, long result) {
            return new Struct(size, range + Abi.UFFDIO_RANGE_START, -1, range + Abi.UFFDIO_RANGE_LEN, mode, result);
        }
    }

    static final Struct RANGE = new Struct(Abi.UFFDIO_RANGE_SIZE, Abi.UFFDIO_RANGE_START, -1, Abi.UFFDIO_RANGE_LEN, -1, -1);
    static final Struct REGISTER = Struct.ranged(Abi.UFFDIO_REGISTER_SIZE, Abi.UFFDIO_REGISTER_RANGE, Abi.UFFDIO_REGISTER_MODE, -1);
    static final Struct ZEROPAGE = Struct.ranged(Abi.UFFDIO_ZEROPAGE_SIZE, Abi.UFFDIO_ZEROPAGE_RANGE,
            Abi.UFFDIO_ZEROPAGE_MODE, Abi.UFFDIO_ZEROPAGE_RESULT);
    static final Struct WRITEPROTECT = Struct.ranged(Abi.UFFDIO_WRITEPROTECT_SIZE, Abi.UFFDIO_WRITEPROTECT_RANGE,
            Abi.UFFDIO_WRITEPROTECT_MODE, -1);
    static final Struct CONTINUE = Struct.ranged(Abi.UFFDIO_CONTINUE_SIZE, Abi.UFFDIO_CONTINUE_RANGE,
            Abi.UFFDIO_CONTINUE_MODE, Abi.UFFDIO_CONTINUE_RESULT);
    static final Struct POISON = Struct.ranged(Abi.UFFDIO_POISON_SIZE, Abi.UFFDIO_POISON_RANGE,
            Abi.UFFDIO_POISON_MODE, Abi.UFFDIO_POISON_RESULT);
    static final Struct COPY = new Struct(Abi.UFFDIO_COPY_SIZE, Abi.UFFDIO_COPY_DST, Abi.UFFDIO_COPY_SRC, Abi.UFFDIO_COPY_LEN,
            Abi.UFFDIO_COPY_MODE, Abi.UFFDIO_COPY_RESULT);
    static final Struct MOVE = new Struct(Abi.UFFDIO_MOVE_SIZE, Abi.UFFDIO_MOVE_DST, Abi.UFFDIO_MOVE_SRC, Abi.UFFDIO_MOVE_LEN,
            Abi.UFFDIO_MOVE_MODE, Abi.UFFDIO_MOVE_RESULT);

    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG;

    /** An ioctl on a struct with a range (and a mode where it has one): bytes done, or the exception. */
    static long range(int fd, Ioctl ioctl, Struct struct, long address, long length, long kernelMode) {
        Native.ThreadState t = Native.thread();
        MemorySegment a = t.struct(struct.size());
        a.set(U64, struct.start(), address);
        a.set(U64, struct.len(), length);
        if (struct.mode() >= 0) {
            a.set(U64, struct.mode(), kernelMode);
        }
        if (struct.result() >= 0) {
            a.set(U64, struct.result(), UffdException.NO_RESULT);
        }
        int rc = ioctl.isShortCall() ? t.shortIoctl(fd, ioctl.request()) : t.ioctl(fd, ioctl.request());
        return outcome(t, ioctl, rc, a, struct, address, length);
    }

    /** COPY and MOVE: {@code length} bytes from {@code src} into {@code dst}. */
    static long transfer(int fd, Ioctl ioctl, Struct struct, long dst, long src, long length, long kernelMode) {
        Native.ThreadState t = Native.thread();
        MemorySegment a = t.struct(struct.size());
        a.set(U64, struct.start(), dst);
        a.set(U64, struct.src(), src);
        a.set(U64, struct.len(), length);
        a.set(U64, struct.mode(), kernelMode);
        a.set(U64, struct.result(), UffdException.NO_RESULT);
        return outcome(t, ioctl, t.ioctl(fd, ioctl.request()), a, struct, dst, length);
    }

    /**
     * Bytes done, or the exception. Where the struct has a signed count (preset to
     * {@link UffdException#NO_RESULT}, so that a field the kernel did not write is told apart), a
     * negative one is a negated errno and a positive one on failure is a partial operation,
     * reported in the exception's {@code bytesDone}; it is never taken as a length blindly, and
     * the exception carries it as the kernel wrote it ({@link UffdException#kernelResult()}). The
     * others are all or nothing: 0 bytes done on failure.
     */
    private static long outcome(Native.ThreadState t, Ioctl ioctl, int rc, MemorySegment arg, Struct struct, long address, long length) {
        if (struct.result() < 0) {
            if (rc == 0) {
                return length;
            }
            throw Failures.of(ioctl, t.errno(), address, length, 0);
        }
        long count = arg.get(U64, struct.result());
        if (rc == 0) {
            return count == UffdException.NO_RESULT ? length : count;
        }
        throw Failures.of(ioctl, t.errno(), address, length, Math.max(count, 0), count);
    }

    /** UFFDIO_REGISTER: the mask of ioctls the kernel allows on the range. */
    static long register(int fd, long start, long length, long modes) {
        Native.ThreadState t = Native.thread();
        MemorySegment reg = t.struct(Abi.UFFDIO_REGISTER_SIZE);
        reg.set(U64, REGISTER.start(), start);
        reg.set(U64, REGISTER.len(), length);
        reg.set(U64, REGISTER.mode(), modes);
        if (t.ioctl(fd, Ioctl.REGISTER.request()) != 0) {
            throw Failures.of(Ioctl.REGISTER, t.errno(), start, length, 0);
        }
        return reg.get(U64, Abi.UFFDIO_REGISTER_IOCTLS);
    }

    /** The kernel's answer to UFFDIO_API: the features it enabled (or supports) and its ioctl mask. */
    record ApiAnswer(long features, long ioctls) {
    }

    /** UFFDIO_API with exactly {@code api} and {@code features}: the struct as the kernel left it and the errno (0 on success). */
    static ApiProbe probeApi(int fd, long api, long features) {
        Native.ThreadState t = Native.thread();
        MemorySegment arg = t.struct(Abi.UFFDIO_API_SIZE);
        arg.set(U64, Abi.UFFDIO_API_API, api);
        arg.set(U64, Abi.UFFDIO_API_FEATURES, features);
        int errno = t.ioctl(fd, Ioctl.API.request()) == 0 ? 0 : t.errno();
        return new ApiProbe(api, features, errno, arg.get(U64, Abi.UFFDIO_API_FEATURES), arg.get(U64, Abi.UFFDIO_API_IOCTLS));
    }

    /** UFFDIO_API asking for {@code features} (0: the kernel reports all it supports). */
    static ApiAnswer api(int fd, long features) {
        Native.ThreadState t = Native.thread();
        MemorySegment api = t.struct(Abi.UFFDIO_API_SIZE);
        api.set(U64, Abi.UFFDIO_API_API, Abi.UFFD_API);
        api.set(U64, Abi.UFFDIO_API_FEATURES, features);
        if (t.ioctl(fd, Ioctl.API.request()) != 0) {
            throw Failures.of(Ioctl.API, t.errno(), 0, 0, 0);
        }
        return new ApiAnswer(api.get(U64, Abi.UFFDIO_API_FEATURES), api.get(U64, Abi.UFFDIO_API_IOCTLS));
    }
}
