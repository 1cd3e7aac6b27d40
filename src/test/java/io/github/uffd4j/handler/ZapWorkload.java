package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The child-JVM workload of {@link AccessorSafetyTest} and {@link SoakTest}: reader threads use
 * only {@link LazySegment}'s accessors (getByte/getInt/getLong, copyTo off-heap and into a byte[])
 * and check every value against the source's contents, while one thread calls
 * {@code region().reset} on random aligned ranges, another (optionally) zaps pages behind the
 * service's back ({@link Memory#dontNeed}, and MADV_REMOVE for shared memory), and another makes
 * garbage and calls System.gc(). Each cycle opens a segment, runs for a random time, and closes it
 * (at a random point, with the readers and resets still running, when asked).
 *
 * <p>Arguments: {@code anon|shared}, total milliseconds, cycle milliseconds (upper bound),
 * {@code external|resets-only}, {@code close-while-running|close-when-quiet}. Prints one line
 * {@code RESULT key=value ...} and exits 0; the watching test decides.
 */
public final class ZapWorkload {

    static final long SEED = 77;
    static final long SIZE = 8L << 20;
    /** Between two zaps: leaves the readers (and the other developers' builds) some CPU on a small machine. */
    static final long PAUSE_NANOS = 100_000;
    static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(1);

    private final LongAdder reads = new LongAdder();
    private final LongAdder bytesChecked = new LongAdder();
    private final LongAdder wrongOpen = new LongAdder();
    private final LongAdder wrongClosing = new LongAdder();
    private final LongAdder errorsOpen = new LongAdder();
    private final LongAdder resets = new LongAdder();
    private final LongAdder zaps = new LongAdder();
    private final LongAdder failuresOpen = new LongAdder();
    private final LongAdder kernelErrors = new LongAdder();
    private final AtomicLong closeMillisMax = new AtomicLong();
    private final LongAdder closesOverLimit = new LongAdder();
    private final java.util.concurrent.atomic.AtomicInteger printed = new java.util.concurrent.atomic.AtomicInteger();

    public static void main(String[] args) throws Exception {
        boolean shared = args[0].equals("shared");
        long totalMillis = Long.parseLong(args[1]);
        long cycleMillis = Long.parseLong(args[2]);
        boolean external = args[3].equals("external");
        boolean closeWhileRunning = args[4].equals("close-while-running");
        ZapWorkload w = new ZapWorkload();
        AtomicBoolean stopGc = new AtomicBoolean();
        Thread gc = Thread.ofPlatform().daemon().name("garbage").start(() -> garbage(stopGc));
        long end = System.nanoTime() + totalMillis * 1_000_000;
        int cycles = 0;
        while (System.nanoTime() < end) {
            long millis = closeWhileRunning ? ThreadLocalRandom.current().nextLong(cycleMillis / 4, cycleMillis + 1) : cycleMillis;
            w.cycle(shared, millis, external, closeWhileRunning);
            cycles++;
        }
        stopGc.set(true);
        gc.join();
        System.out.println("RESULT cycles=" + cycles + " reads=" + w.reads.sum() + " bytesChecked=" + w.bytesChecked.sum()
                + " wrongOpen=" + w.wrongOpen.sum() + " wrongClosing=" + w.wrongClosing.sum() + " errorsOpen=" + w.errorsOpen.sum()
                + " resets=" + w.resets.sum() + " zaps=" + w.zaps.sum() + " failuresOpen=" + w.failuresOpen.sum()
                + " kernelErrors=" + w.kernelErrors.sum() + " closeMillisMax=" + w.closeMillisMax.get()
                + " closesOverLimit=" + w.closesOverLimit.sum());
        System.exit(0);
    }

    private void cycle(boolean shared, long millis, boolean external, boolean closeWhileRunning) throws Exception {
        AtomicBoolean closing = new AtomicBoolean();
        LazySegment data = LazySegment.builder(SIZE, Data.source(SEED)).shared(shared).threads(2).closeTimeout(CLOSE_TIMEOUT)
                .onFailure(f -> {
                    if (!closing.get()) {
                        failuresOpen.increment();
                        report("failure while open: " + f);
                    }
                    if (f.kind() == FaultFailure.Kind.KERNEL_ERROR) {
                        kernelErrors.increment();
                        report("kernel error: " + f);
                    }
                }).open();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicBoolean stopZapper = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            threads.add(Thread.ofPlatform().name("reader-" + i).start(() -> read(data, stop)));
        }
        threads.add(Thread.ofPlatform().name("resetter").start(() -> resets(data, stop, closing)));
        Thread zapper = external ? Thread.ofPlatform().name("zapper").start(() -> zaps(data, shared, stopZapper)) : null;
        Thread.sleep(millis);
        if (zapper != null) {
            // a raw madvise must not outlive the mapping (the address could be reused): stop it before close
            stopZapper.set(true);
            zapper.join();
        }
        if (!closeWhileRunning) {
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
        }
        closing.set(true);
        long t0 = System.nanoTime();
        data.close();
        long closeMillis = (System.nanoTime() - t0) / 1_000_000;
        closeMillisMax.accumulateAndGet(closeMillis, Math::max);
        if (closeMillis > CLOSE_TIMEOUT.toMillis() + 1_000) {
            closesOverLimit.increment();
            report("close() took " + closeMillis + " ms");
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
    }

    private void read(LazySegment data, AtomicBoolean stop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        byte[] heap = new byte[96 * 1024];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment off = arena.allocate(96 * 1024);
            while (!stop.get()) {
                int op = rnd.nextInt(5);
                long len = op == 0 ? 1 : op == 1 ? 4 : op == 2 ? 8 : rnd.nextLong(1, heap.length + 1);
                long o = rnd.nextLong(0, SIZE - len + 1);
                boolean trustedBefore = data.region().pages().trusted();
                long wrong;
                MemorySegment got = op == 3 ? off.asSlice(0, len) : MemorySegment.ofArray(heap).asSlice(0, len);
                try {
                    wrong = switch (op) {
                        case 0 -> data.getByte(o) == (byte) Data.longAt(SEED, o) ? 0 : 1;
                        case 1 -> data.getInt(o) == (int) Data.longAt(SEED, o) ? 0 : 1;
                        case 2 -> data.getLong(o) == Data.longAt(SEED, o) ? 0 : 1;
                        case 3 -> {
                            MemorySegment dst = off.asSlice(0, len);
                            data.copyTo(o, dst);
                            yield Data.wrongBytes(SEED, dst, o);
                        }
                        default -> {
                            data.copyTo(o, heap, 0, (int) len);
                            yield Data.wrongBytes(SEED, MemorySegment.ofArray(heap).asSlice(0, len), o);
                        }
                    };
                } catch (RuntimeException e) {
                    if (!data.service().isClosed()) {
                        errorsOpen.increment();
                        report("reader error while open: " + e);
                    }
                    continue;
                }
                // a read that returned while the service was still open happened wholly before close()
                boolean open = !data.service().isClosed();
                reads.increment();
                bytesChecked.add(len);
                if (wrong != 0) {
                    (open ? wrongOpen : wrongClosing).add(wrong);
                    report((open ? "WRONG" : "wrong while closing") + ": " + wrong + " bytes at offset " + o + " +" + len
                            + " (op " + op + ", table trusted before: " + trustedBefore + ")" + (op >= 3 ? " " + describeWrong(got, o) + " "
                            + readAgain(data, o, len) : ""));
                }
            }
        }
    }

    /** Where the wrong bytes of a copy lie (page, offsets in it, whether they read as zeros): for the report. */
    static String describeWrong(MemorySegment got, long offset) {
        long first = -1;
        long last = -1;
        long zeros = 0;
        for (long i = 0; i < got.byteSize(); i++) {
            if (got.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) != (byte) Data.longAt(SEED, offset + i)) {
                first = first < 0 ? i : first;
                last = i;
                zeros += got.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i) == 0 ? 1 : 0;
            }
        }
        long page = Memory.pageSize();
        return "[wrong from " + (offset + first) + " (page " + (offset + first) / page + " +" + (offset + first) % page
                + ") to " + (offset + last) + " (page " + (offset + last) / page + " +" + (offset + last) % page + "), "
                + zeros + " of them zero]";
    }

    /** What a second read of the range through the kernel finds: tells a torn read from memory that is wrong. */
    private static String readAgain(LazySegment data, long offset, long len) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment again = arena.allocate(len);
            Memory.readThroughKernel(data.segment().address() + offset, again);
            return "read again through the kernel: " + Data.wrongBytes(SEED, again, offset) + " wrong";
        } catch (RuntimeException e) {
            return "read again failed: " + e;
        }
    }

    private void resets(LazySegment data, AtomicBoolean stop, AtomicBoolean closing) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long pages = SIZE / Memory.pageSize();
        while (!stop.get()) {
            long n = rnd.nextLong(1, 33);
            long p = rnd.nextLong(0, pages - n + 1);
            try {
                data.region().reset(p * Memory.pageSize(), n * Memory.pageSize());
                resets.increment();
                java.util.concurrent.locks.LockSupport.parkNanos(PAUSE_NANOS);
            } catch (RuntimeException e) {
                if (!closing.get()) {
                    errorsOpen.increment();
                    report("reset error while open: " + e);
                }
            }
        }
    }

    private void zaps(LazySegment data, boolean shared, AtomicBoolean stop) {
        ThreadLocalRandom rnd = ThreadLocalRandom.current();
        long page = Memory.pageSize();
        long pages = SIZE / page;
        while (!stop.get()) {
            long n = rnd.nextLong(1, 17);
            long p = rnd.nextLong(0, pages - n + 1);
            try {
                if (shared && rnd.nextBoolean()) {
                    data.sharedMemory().view().remove(p * page, n * page);   // MADV_REMOVE: a hole punch
                } else {
                    Memory.dontNeed(data.segment().address() + p * page, n * page);
                }
                zaps.increment();
                java.util.concurrent.locks.LockSupport.parkNanos(PAUSE_NANOS);
            } catch (RuntimeException e) {
                errorsOpen.increment();
                report("zap error: " + e);
            }
        }
    }

    private static void garbage(AtomicBoolean stop) {
        List<byte[]> keep = new ArrayList<>();
        long last = System.nanoTime();
        while (!stop.get()) {
            keep.add(new byte[ThreadLocalRandom.current().nextInt(64, 64 * 1024)]);
            if (keep.size() > 256) {
                keep.clear();
            }
            if (System.nanoTime() - last > 200_000_000L) {
                System.gc();
                last = System.nanoTime();
            }
        }
    }

    private void report(String line) {
        if (printed.getAndIncrement() < 20) {
            System.out.println(Thread.currentThread().getName() + ": " + line);
        }
    }
}
