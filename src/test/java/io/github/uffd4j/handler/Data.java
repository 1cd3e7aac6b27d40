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
