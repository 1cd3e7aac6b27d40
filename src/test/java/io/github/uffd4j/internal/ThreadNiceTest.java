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
        String stat = Files.readString(Path.of("/proc/self/task/" + tid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Integer.parseInt(f[19 - 3]);
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
}
