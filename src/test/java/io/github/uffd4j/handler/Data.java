package io.github.uffd4j.handler;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicIntegerArray;

/** Deterministic test contents: the long at byte offset {@code o} (a multiple of 8) is {@code word(seed, o)}. */
final class Data {

    private Data() {
    }

    static long word(long seed, long offset) {
        long z = seed * 0x9E3779B97F4A7C15L + offset;
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return (z ^ (z >>> 33)) | 1;
    }

    /** The long at any byte offset {@code o} (little-endian, as the words are stored): for unaligned reads. */
    static long longAt(long seed, long o) {
        long a = o & -8L;
        int shift = (int) (o & 7) * 8;
        return shift == 0 ? word(seed, a) : word(seed, a) >>> shift | word(seed, a + 8) << (64 - shift);
    }

    /** How many bytes of {@code s} differ from the contents at {@code [offset, offset + s.byteSize())}. */
    static long wrongBytes(long seed, MemorySegment s, long offset) {
        long n = s.byteSize();
        long wrong = 0;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            long x = s.get(ValueLayout.JAVA_LONG_UNALIGNED, i) ^ longAt(seed, offset + i);
            for (; x != 0; x >>>= 8) {
                wrong += (x & 0xff) != 0 ? 1 : 0;
            }
        }
        for (; i < n; i++) {
            wrong += s.get(ValueLayout.JAVA_BYTE, i) != (byte) longAt(seed, offset + i) ? 1 : 0;
        }
        return wrong;
    }

    /** Fills {@code dst} with the words at {@code [offset, offset + size)}. */
    static void fill(long seed, long offset, MemorySegment dst) {
        for (long i = 0; i < dst.byteSize(); i += 8) {
            dst.set(ValueLayout.JAVA_LONG_UNALIGNED, i, word(seed, offset + i));
        }
    }

    static PageSource source(long seed) {
        return (offset, dst) -> fill(seed, offset, dst);
    }

    /** A source that also counts, per page, how many times it filled it. */
    static PageSource counting(long seed, long pageSize, AtomicIntegerArray perPage) {
        return (offset, dst) -> {
            for (long o = 0; o < dst.byteSize(); o += pageSize) {
                perPage.incrementAndGet((int) ((offset + o) / pageSize));
            }
            fill(seed, offset, dst);
        };
    }

    /** Index of the first wrong word in {@code [offset, offset + length)} of {@code s}, or -1. */
    static long firstMismatch(long seed, MemorySegment s, long offset, long length) {
        for (long o = offset; o < offset + length; o += 8) {
            if (s.get(ValueLayout.JAVA_LONG_UNALIGNED, o) != word(seed, o)) {
                return o;
            }
        }
        return -1;
    }
}
