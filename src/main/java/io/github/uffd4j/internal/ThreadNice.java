package io.github.uffd4j.internal;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

/**
 * Lowers the CPU priority of the calling thread (its nice value, setpriority(2) on its thread
 * id): for background work, such as a postcopy push, that must yield the CPU to the threads
 * serving faults. Any user may lower a thread's priority; raising it again needs CAP_SYS_NICE, so
 * only threads that end with their work are lowered. Best effort: where the call fails the thread
 * runs at its priority as before. Stateless: thread safe.
 */
public final class ThreadNice {

    private ThreadNice() {
    }

    /**
     * Sets the calling thread's nice value to {@code nice} (higher is lower priority; 19 at most)
     * if that is lower in priority than it has.
     *
     * @param nice the nice value wanted, 0 to 19
     * @return whether the thread now runs at that nice value or lower priority
     */
    public static boolean lowerCurrentThread(int nice) {
        if (nice < 0 || nice > 19) {
            throw new IllegalArgumentException("a nice value to lower a thread to is 0 to 19, not " + nice);
        }
        try {
            Native.ensureAvailable();
            int tid = Native.gettid();
            return Native.setpriority(Abi.PRIO_PROCESS, tid, nice) == 0;
        } catch (RuntimeException | LinkageError unavailable) {
            return false;
        }
    }
}
