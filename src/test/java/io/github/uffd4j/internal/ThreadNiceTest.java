package io.github.uffd4j.internal;

import io.github.uffd4j.internal.linux.Native;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A thread lowers its own priority, and only its own: the kernel's view of each thread says so. */
class ThreadNiceTest {

    /** The nice value of thread {@code tid} of this process (/proc/self/task/TID/stat, field 19). */
    private static int niceOf(int tid) throws Exception {
        return statField(tid, 19);
    }

    /** The scheduling policy of thread {@code tid} of this process (field 41; SCHED_IDLE is 5, SCHED_OTHER 0). */
    private static int policyOf(int tid) throws Exception {
        return statField(tid, 41);
    }

    private static int statField(int tid, int field) throws Exception {
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(f[field - 3]);
    }

    @Test
    void aThreadLowersItsOwnPriorityAndNoOtherThreads() throws Exception {
        int me = Native.gettid();
        int before = niceOf(me);
        int wanted = Math.min(19, before + 5); // lower than this JVM runs at, whatever that is
        int[] seen = new int[2];
        boolean[] ok = new boolean[1];
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                int tid = Native.gettid();
                ok[0] = ThreadNice.lowerCurrentThread(wanted);
                seen[0] = niceOf(tid);
            } catch (Exception e) {
                seen[0] = -100;
            }
        });
        t.join();
        assertTrue(ok[0], "setpriority succeeded");
        assertEquals(wanted, seen[0], "the thread runs at nice " + wanted);
        assertEquals(before, niceOf(me), "this thread is untouched");
        assertThrows(IllegalArgumentException.class, () -> ThreadNice.lowerCurrentThread(-5));
    }

    @Test
    void aThreadPutsItselfInTheIdleClassAndNoOtherThreads() throws Exception {
        int me = Native.gettid();
        int before = policyOf(me);
        int[] seen = new int[1];
        boolean[] ok = new boolean[1];
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                int tid = Native.gettid();
                ok[0] = ThreadNice.idleCurrentThread();
                seen[0] = policyOf(tid);
            } catch (Exception e) {
                seen[0] = -100;
            }
        });
        t.join();
        assertTrue(ok[0], "sched_setscheduler succeeded");
        assertEquals(io.github.uffd4j.internal.linux.Abi.SCHED_IDLE, seen[0], "the thread runs as SCHED_IDLE");
        assertEquals(before, policyOf(me), "this thread is untouched");
    }
}
