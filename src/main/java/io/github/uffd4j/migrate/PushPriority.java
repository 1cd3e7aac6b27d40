package io.github.uffd4j.migrate;

import io.github.uffd4j.internal.ThreadNice;

/**
 * How the postcopy push shares the CPUs with the pages faults ask for, on either side (each side
 * sets its own: {@link MigrationSource.Options#withPushPriority},
 * {@link MigrationTarget.Options#withPushPriority}). The push is the background stream of the pages
 * no fault asked for; the urgent path is a fault's request, its answer and its install.
 *
 * <p>At either priority the push gives up its CPU ({@code sched_yield}) after every few pages
 * (about 50 us of work), so that a thread of the urgent path waiting for that CPU gets it then
 * instead of when the push's time slice ends: the scheduler lets a running thread finish its
 * slice (milliseconds) before a woken one of the same or higher priority takes over. On a 2-CPU
 * machine under a long push that took urgent faults' p99 from 1.3-3.3 ms to 0.4-0.8 ms.
 *
 * <p>The SCHED_IDLE class, which any waking thread preempts at once, was measured too and not
 * offered: a Java thread in it that the scheduler holds off while the application keeps every
 * CPU busy (seconds, at its weight) holds up every safepoint of the JVM, and any lock it holds.
 */
public enum PushPriority {

    /**
     * The push runs at nice 10 (setpriority(2) on its threads, which any user may do): about a
     * tenth of a CPU against a busy thread of normal priority, so it always moves. The default.
     */
    LOW,

    /**
     * The push runs at the priority of the thread that started the migration: for a target
     * whose application keeps its CPUs busy and wants the migration finished soonest.
     */
    NORMAL;

    /** Applies this priority to the calling thread (best effort: where the kernel refuses, it runs as it is). */
    void applyToCurrentThread() {
        if (this == LOW) {
            ThreadNice.lowerCurrentThread(10);
        }
    }
}
