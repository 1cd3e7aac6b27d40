package io.github.uffd4j.bench;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.RegisterMode;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.Userfaultfd;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One case's memory, userfaultfd and handler thread, shared by its touching threads (one
 * {@link Toucher} each, over a chunk of its own). Built as the C reference builds it.
 */
final class Workload implements AutoCloseable {

    /** Set by scripts/bench for the cross-CPU column: touching threads on CPU 0, the handler on CPU 1. */
    static final boolean CROSS_CPU = Boolean.getBoolean("uffd4j.bench.crossCpu");

    final Case c;
    final long page = Memory.pageSize();
    final Mapping source;
    final Mapping anonymous;
    final SharedMemory shared;
    final long base;
    final Userfaultfd uffd;
    final Handler handler;

    private Workload(Case c, boolean remote) {
        this.c = c;
        long total = c.chunkBytes() * c.threads;
        source = Memory.anonymous(total);
        fillPattern(source.segment(), page);
        if (c.mode == RegisterMode.MINOR) {
            shared = Memory.shared(total);
            anonymous = null;
            // the page cache is filled through the alias; the view, registered MINOR, maps nothing yet
            MemorySegment.copy(source.segment(), 0, shared.alias().segment(), 0, total);
            base = shared.view().address();
        } else {
            shared = null;
            anonymous = Memory.anonymous(total);
            base = anonymous.address();
            if (c.mode == RegisterMode.WP) {
                // present pages to protect (this thread is not registered yet: plain stores are fine)
                MemorySegment.copy(source.segment(), 0, anonymous.segment(), 0, total);
            }
        }
        if (c.mode == null) {
            uffd = null;
            handler = null;
            return;
        }
        uffd = c.mode == RegisterMode.MINOR
                ? Userfaultfd.builder().features(Feature.MINOR_SHMEM).open()
                : Userfaultfd.open();
        MemorySegment registered = MemorySegment.ofAddress(base).reinterpret(total);
        uffd.register(registered, c.mode);
        if (remote && c.resolve != RawHandler.Resolve.COPY) {
            throw new IllegalArgumentException(c.id + ": only COPY cases run with a handler in another process");
        }
        handler = c.resolve == null ? null
                : remote ? new RemoteHandler(uffd, base, total, c.unit, CROSS_CPU)
                : new RawHandler(uffd, c.resolve, base, source.address(), c.unit, CROSS_CPU);
    }

    static Workload open(Case c) {
        return new Workload(c, false);
    }

    /** The case with its handler thread in another JVM that was handed the userfaultfd ({@link RemoteHandler}). */
    static Workload openRemote(Case c) {
        return new Workload(c, true);
    }

    /** The touching thread for chunk {@code index}, created (and, cross-CPU, pinned) on the calling thread. */
    Toucher toucher(int index) {
        return toucher(index, false);
    }

    /**
     * The same; with {@code javaLoads}, reads touch with plain Java loads instead of a native call:
     * only when the handler is in another process (in this one the JVM could freeze).
     */
    Toucher toucher(int index, boolean javaLoads) {
        if (index < 0 || index >= c.threads) {
            throw new IllegalArgumentException("chunk " + index + " of " + c.threads);
        }
        if (javaLoads && !(handler instanceof RemoteHandler)) {
            throw new IllegalArgumentException("plain Java loads on memory whose faults this JVM serves could freeze it");
        }
        return new Toucher(this, index, javaLoads);
    }

    /** The mapping the registered memory belongs to. */
    Mapping anonymousOrView() {
        return anonymous != null ? anonymous : shared.view();
    }

    /** The C reference's pattern: every 8 bytes a value that depends on the page and the offset. */
    static void fillPattern(MemorySegment s, long page) {
        for (long i = 0; i < s.byteSize(); i += 8) {
            s.set(ValueLayout.JAVA_LONG, i, 0x0101010101010101L * ((i / page + 1) & 0xff) + i);
        }
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        if (handler != null) {
            try {
                handler.close();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (uffd != null && !uffd.isClosed()) {
            uffd.close();
        }
        if (anonymous != null) {
            anonymous.close();
        }
        if (shared != null) {
            shared.close();
        }
        source.close();
        if (failure != null) {
            throw failure;
        }
    }
}
