package io.github.uffd4j.snapshot;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Two writers stamping random whole pages with a global sequence number, each writer its own half
 * of the pages (so a page's writes have one order), a read lock per write: pausing them
 * ({@link Quiesce}) takes the write lock and notes the sequence reached. Every write is logged, so
 * {@link #stateAt} knows what each page held at any sequence number.
 */
final class StampingWriters implements Quiesce, AutoCloseable {

    /** Writes {@code stamp} over the whole of {@code page}, on writer thread {@code writer}. */
    @FunctionalInterface
    interface PageWrite {
        void write(int writer, long page, long stamp);
    }

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicLong seq = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final List<long[]> logs = new ArrayList<>(); // per writer: page, stamp pairs
    private final List<Thread> threads = new ArrayList<>();
    final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private final int pages;
    private volatile long atPause = -1;

    StampingWriters(int pages, int writesPerWriter, PageWrite write) {
        this.pages = pages;
        for (int t = 0; t < 2; t++) {
            long[] log = new long[2 * writesPerWriter];
            logs.add(log);
            int writer = t;
            threads.add(Thread.ofPlatform().start(() -> {
                SplittableRandom rnd = new SplittableRandom(writer + 7);
                try {
                    for (int i = 0; i < writesPerWriter && !stop.get(); i++) {
                        long page = rnd.nextInt(pages / 2) * 2L + writer;
                        lock.readLock().lock();
                        try {
                            long s = seq.incrementAndGet();
                            write.write(writer, page, s);
                            log[2 * i] = page;
                            log[2 * i + 1] = s;
                        } finally {
                            lock.readLock().unlock();
                        }
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            }));
        }
    }

    @Override
    public void pause() {
        lock.writeLock().lock();
        atPause = seq.get();
    }

    @Override
    public void resume() {
        lock.writeLock().unlock();
    }

    /** The sequence number reached at the last pause (-1: none yet). */
    long atPause() {
        return atPause;
    }

    /** Writes made so far. */
    long writes() {
        return seq.get();
    }

    /** Every page's stamp at sequence {@code s}: its last write numbered {@code s} or less, 0 if none. */
    long[] stateAt(long s) {
        long[] state = new long[pages];
        for (long[] log : logs) {
            for (int i = 0; i + 1 < log.length && log[i + 1] != 0; i += 2) {
                int p = (int) log[i];
                if (log[i + 1] <= s && log[i + 1] > state[p]) {
                    state[p] = log[i + 1];
                }
            }
        }
        return state;
    }

    /** Stops the writers and waits for them. */
    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
    }
}
