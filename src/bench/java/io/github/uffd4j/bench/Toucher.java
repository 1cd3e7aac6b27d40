package io.github.uffd4j.bench;

import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One touching thread's chunk of a {@link Workload}: an invocation touches its {@link Case#OPS}
 * units in the case's order, timing each touch; {@link #reset()} puts the chunk back (untimed).
 */
final class Toucher implements AutoCloseable {

    private final Workload w;
    private final Case.Touch touch;
    private final long unit;
    private final long page;
    private final long chunk;
    private final long sourceChunk;
    private final long chunkBytes;
    private final int[] order;
    private final Userfaultfd uffd;
    private final Latencies.Recorder recorder = Latencies.register();
    private final MemorySegment javaView;
    /** What Java loads read, kept so the JIT cannot drop them. */
    long sink;

    Toucher(Workload w, int index, boolean javaLoads) {
        this.w = w;
        Case c = w.c;
        this.touch = c.touch;
        this.unit = c.unit;
        this.page = w.page;
        this.chunkBytes = c.chunkBytes();
        this.chunk = w.base + index * chunkBytes;
        this.sourceChunk = w.source.address() + index * chunkBytes;
        this.order = Case.order(Case.OPS, c.random);
        this.uffd = w.uffd;
        this.javaView = javaLoads ? MemorySegment.ofAddress(chunk).reinterpret(chunkBytes) : null;
        if (Workload.CROSS_CPU) {
            NativeTouch.pinTo(0);
        }
        reset();
        if (touch == Case.Touch.READ) {
            // one untimed pass checks that every fault is resolved with the right contents
            invocation();
            verify();
            reset();
        }
    }

    /** Touches every unit of the chunk once, in order, recording each touch's latency. */
    void invocation() {
        final long unit = this.unit;
        for (int k = 0; k < Case.OPS; k++) {
            long p = chunk + order[k] * unit;
            long t0 = System.nanoTime();
            switch (touch) {
                case READ -> {
                    if (javaView != null) {
                        for (long off = 0; off < unit; off += page) {
                            sink += javaView.get(ValueLayout.JAVA_BYTE, p - chunk + off);
                        }
                    } else {
                        for (long off = 0; off < unit; off += page) {
                            NativeTouch.read(p + off);
                        }
                    }
                }
                case WRITE -> NativeTouch.write(p);
                case IOCTL_COPY -> uffd.copy(p, sourceChunk, unit, Userfaultfd.DONT_WAKE);
                case IOCTL_WAKE -> uffd.wake(p, unit);
                case IOCTL_WP -> uffd.writeProtect(p, unit, true, 0);
            }
            recorder.record(System.nanoTime() - t0);
        }
        if (w.handler != null) {
            w.handler.check();
        }
    }

    /** Puts the chunk back as it was before the invocation: missing, or write-protected. */
    void reset() {
        switch (touch) {
            case IOCTL_WP -> uffd.writeProtect(chunk, chunkBytes, false, 0);
            case IOCTL_WAKE -> {
            }
            default -> {
                if (w.c.mode == RegisterMode.WP) {
                    uffd.writeProtect(chunk, chunkBytes, true, 0);
                } else {
                    w.anonymousOrView().dontNeed(chunk - w.base, chunkBytes);
                }
            }
        }
    }

    /**
     * After an invocation (before its reset): each unit holds what its fault was resolved with,
     * the source's bytes (COPY, CONTINUE) or zeros (ZEROPAGE). Reads with Java loads, so only
     * pages already present.
     */
    void verify() {
        if (touch != Case.Touch.READ) {
            return;
        }
        boolean zero = w.c.resolve == RawHandler.Resolve.ZEROPAGE;
        MemorySegment mine = MemorySegment.ofAddress(chunk).reinterpret(chunkBytes);
        MemorySegment src = MemorySegment.ofAddress(sourceChunk).reinterpret(chunkBytes);
        for (long off = 0; off < chunkBytes; off += page) {
            long want = zero ? 0 : src.get(ValueLayout.JAVA_LONG, off + page - 8);
            long got = mine.get(ValueLayout.JAVA_LONG, off + page - 8);
            if (got != want) {
                throw new IllegalStateException(w.c.id + ": wrong contents at offset " + off + ": 0x"
                        + Long.toHexString(got) + " instead of 0x" + Long.toHexString(want));
            }
        }
    }

    @Override
    public void close() {
        Latencies.unregister(recorder);
    }
}
