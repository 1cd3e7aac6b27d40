package io.github.uffd4j.migrate;

import io.github.uffd4j.internal.ThreadNice;

/**
 * How the postcopy push shares the CPUs with the pages faults ask for, on either side (each side
 * sets its own: {@link MigrationSource.Options#withPushPriority}, {@link
 * MigrationTarget.Options#withPushPriority}). The push is the background stream of the pages no
 * fault asked for; the urgent path is a fault's request, its answer and its install. Where both
 * want a CPU, the push must give way at once, or an urgent page waits out the push's time slice
 * (milliseconds: on a 2-CPU machine an urgent fault's p99 went from 0.3 to 1.5-2.6 ms).
 * Any user may lower a thread's priority; the push's threads end with the push.
 */
public enum PushPriority {

    /**
     * The push runs in the SCHED_IDLE class: only on CPU time no other thread wants, and any
     * other thread waking on its CPU takes the CPU at once. The urgent path never waits for it.
     * The cost: while the application keeps every CPU busy the push barely moves (the pages it
     * touches still come at once, asked for), so the migration takes longer to complete and the
     * source holds its copy longer. The default.
     */
    IDLE,

    /**
     * The push runs at nice 10: about a tenth of a CPU's time against a busy thread of normal
     * priority, so it always moves; a thread waking on its CPU may wait for it to use up its time
     * slice first.
     */
    LOW,

    /** The push runs at the priority of the thread that started the migration. */
    NORMAL;

    /** Applies this priority to the calling thread (best effort: where the kernel refuses, it runs as it is). */
    void applyToCurrentThread() {
        switch (this) {
            case IDLE -> ThreadNice.idleCurrentThread();
            case LOW -> ThreadNice.lowerCurrentThread(10);
            case NORMAL -> { }
        }
    }
}
