package io.github.uffd4j.migrate;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.Region;
import io.github.uffd4j.internal.ThreadNice;
import io.github.uffd4j.source.Compression;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.BitSet;
import java.util.SplittableRandom;

import static io.github.uffd4j.migrate.MigrationProtocol.*;

/**
 * Runs the target's postcopy on throwaway memory while the precopy streams in, so that the
 * switchover finds its code loaded, linked and compiled. Without it the first half second of a
 * postcopy ran cold: the JIT compilers took half of this 2-CPU machine to compile the fault path,
 * the push's installs and the frames' parsing just when urgent faults needed the CPU, and urgent
 * faults waited 1-16 ms in that window (their p99 over a whole postcopy: 1.5-3.5 ms; afterwards
 * they took 30-150 us).
 *
 * <p>A rehearsal is a postcopy in small, through the very classes of a real one (code compiled
 * for other classes would be thrown away at the first real call): a {@link MigratedMemory} over
 * a small memory of the target's kind, its own {@link FaultService}, connected over loopback to
 * a stand-in source in this class that answers page requests and pushes half of the pages while
 * a thread here touches the other half in random order. Rounds run on threads at low CPU priority
 * until {@link #stop} or enough of them ran. Failures end it quietly: it only ever spends time.
 */
final class PostcopyRehearsal {

    /** Pages per round: half asked for by touches, half pushed. */
    private static final int PAGES = 1024;
    /** Rounds: about 10,000 pages each way, what it takes the JIT to compile both paths fully. */
    private static final int ROUNDS = 20;
    /** The longest a round waits for anything (a page, the push, its threads). */
    private static final Duration TIMEOUT = Duration.ofSeconds(2);
    /**
     * The longest {@link #stop} waits for the rehearsal's thread: the switchover waits this long at
     * most (the writers are stopped); a round still tearing down then ends on its own.
     */
    private static final Duration STOP_WAIT = Duration.ofMillis(20);

    private final MigrationTarget.Options options;
    private final Thread thread;
    private volatile boolean stopped;
    /** Rounds completed, and of those the ones whose memory did not equal the stand-in source's (for tests). */
    private volatile int rounds;
    private volatile int mismatches;

    private PostcopyRehearsal(MigrationTarget.Options options) {
        this.options = new MigrationTarget.Options(TIMEOUT, options.threads(), options.backing(), options.pushPriority());
        this.thread = Thread.ofPlatform().daemon().name("uffd4j-rehearsal").unstarted(this::run);
    }

    /**
     * Registers and unregisters a throwaway page with {@code service} at once (the first
     * registration links the runtime's native calls: done at the switchover, that took about 10 ms
     * of the writers' downtime), then starts the rehearsal in the background.
     */
    static PostcopyRehearsal start(FaultService service, MigrationTarget.Options options) {
        rehearseRegistration(service);
        PostcopyRehearsal r = new PostcopyRehearsal(options);
        r.thread.start();
        return r;
    }

    private static void rehearseRegistration(FaultService service) {
        try (Mapping page = Memory.anonymous(Memory.pageSize())) {
            BitSet present = new BitSet();
            present.set(0);
            Region r = service.region(page.segment()).name("rehearsal").presentPages(present)
                    .source((offset, destination) -> destination.fill((byte) 0)).register();
            service.unregister(r);
        }
    }

    /** Asks the rehearsal to end (the switchover came): the round running stops after the page in hand. */
    void requestStop() {
        stopped = true;
    }

    /**
     * Ends the rehearsal and waits {@link #STOP_WAIT} at most for its thread (the page in hand and
     * the round's teardown: its memory unmapped, its service closed); what is left ends on its
     * own, on memory and a service of its own.
     */
    void stop() {
        requestStop();
        try {
            thread.join(STOP_WAIT);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Rounds completed so far. */
    int rounds() {
        return rounds;
    }

    /** Completed rounds whose memory differed from the stand-in source's: a bug if ever above 0. */
    int mismatches() {
        return mismatches;
    }

    /** Whether the rehearsal's thread has ended. */
    boolean ended() {
        return !thread.isAlive();
    }

    private void run() {
        ThreadNice.lowerCurrentThread(10); // the precopy's receiving comes first
        // huge pages are the pool's to give: a hugetlb target rehearses with base pages
        MigrationTarget.Backing backing = options.backing();
        MigrationTarget.Backing kind = backing.hugePageSize() == null ? backing
                : backing.isShared() ? MigrationTarget.Backing.SHMEM : MigrationTarget.Backing.ANONYMOUS;
        SplittableRandom random = new SplittableRandom(42);
        int pageSize = (int) Memory.pageSize();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment source = arena.allocate((long) PAGES * pageSize, pageSize);
            for (long i = 0; i < source.byteSize(); i += 8) {
                source.set(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
            }
            for (int round = 0; round < ROUNDS && !stopped; round++) {
                round(kind, source, pageSize, random);
            }
        } catch (IOException | RuntimeException | Error e) {
            // a rehearsal that fails costs the postcopy only its warm start
        }
    }

    /** One postcopy of {@link #PAGES} pages from {@code source} into memory of {@code kind}. */
    private void round(MigrationTarget.Backing kind, MemorySegment source, int pageSize, SplittableRandom random) throws IOException {
        int[] order = shuffled(random);
        InetAddress loopback = InetAddress.getLoopbackAddress();
        try (ServerSocket server = new ServerSocket(0, 2, loopback);
             Socket bulkOut = new Socket(loopback, server.getLocalPort());
             Socket bulkIn = server.accept();
             Socket urgentOut = new Socket(loopback, server.getLocalPort());
             Socket urgentIn = server.accept()) {
            urgentIn.setTcpNoDelay(true);
            urgentOut.setTcpNoDelay(true);
            BitSet stale = new BitSet(PAGES);
            stale.set(0, PAGES);
            Hello hello = new Hello(BULK, 0, pageSize, (long) PAGES * pageSize, Compression.NONE);
            TargetMemory memory = TargetMemory.map(kind, hello.size());
            FaultService service;
            try {
                service = MigratedMemory.newService(pageSize, options);
            } catch (RuntimeException | Error e) {
                memory.close();
                throw e;
            }
            MigratedMemory m;
            try {
                m = MigratedMemory.start("rehearsal", memory, service, hello, new BitSet(), stale, bulkIn,
                        new DataInputStream(new BufferedInputStream(bulkIn.getInputStream(), 1 << 16)), urgentIn, options);
            } catch (IOException | RuntimeException | Error e) {
                service.close();
                memory.close();
                throw e;
            }
            try (m) {
                Thread answers = Thread.ofPlatform().daemon().name("uffd4j-rehearsal-answers").start(
                        () -> answer(urgentOut, source, pageSize));
                Thread push = Thread.ofPlatform().daemon().name("uffd4j-rehearsal-sender").start(
                        () -> push(bulkOut, source, pageSize, order));
                for (int i = 0; i < PAGES / 2 && !stopped; i++) {
                    m.load((long) order[i] * pageSize, pageSize); // asked for: the push sends the other half
                }
                if (stopped) {
                    return; // the pages not asked for never come: closing the memory ends the round
                }
                long until = System.nanoTime() + TIMEOUT.toNanos();
                while (!m.awaitComplete(Duration.ofMillis(10))) {
                    if (stopped || System.nanoTime() > until) {
                        return; // closing the memory ends the round
                    }
                }
                if (m.segment().mismatch(source) >= 0) {
                    mismatches++; // one writer: this thread
                }
                rounds++;
                bulkOut.close();
                urgentOut.close();
                answers.join(TIMEOUT);
                push.join(TIMEOUT);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stopped = true;
            }
        }
    }

    /** The stand-in source's urgent side: answers requests until the target is done. */
    private static void answer(Socket urgent, MemorySegment source, int pageSize) {
        try {
            DataInputStream in = new DataInputStream(new BufferedInputStream(urgent.getInputStream()));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(urgent.getOutputStream(), 1 << 13));
            PageWriter pages = new PageWriter(pageSize, Compression.NONE);
            for (;;) {
                int type = in.readUnsignedByte();
                if (type == REQUEST) {
                    int p = in.readInt();
                    out.writeByte(PAGE);
                    pages.write(out, source, p);
                    out.flush();
                } else if (type == DONE) {
                    return;
                } else if (type != SWITCHED) {
                    return;
                }
            }
        } catch (IOException | RuntimeException e) {
            // the round ended
        }
    }

    /** The stand-in source's push: the second half of {@code order}, then END. */
    private void push(Socket bulk, MemorySegment source, int pageSize, int[] order) {
        options.pushPriority().applyToCurrentThread();
        try {
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(bulk.getOutputStream(), 1 << 16));
            PageWriter pages = new PageWriter(pageSize, Compression.NONE);
            for (int i = PAGES / 2; i < PAGES; i += MAX_BATCH) {
                int n = Math.min(MAX_BATCH, PAGES - i);
                out.writeByte(MigrationProtocol.PAGES);
                out.writeInt(n);
                for (int j = i; j < i + n; j++) {
                    pages.write(out, source, order[j]);
                }
            }
            out.writeByte(END);
            out.flush();
        } catch (IOException | RuntimeException e) {
            // the round ended
        }
    }

    private static int[] shuffled(SplittableRandom random) {
        int[] a = new int[PAGES];
        for (int i = 0; i < PAGES; i++) {
            a[i] = i;
        }
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }
}
