package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What HotSpot does when a thread of the JVM that serves the faults is blocked in a userfaultfd
 * fault and a safepoint is requested (here by System.gc()). Each case runs in a child JVM, which
 * is killed if it hangs.
 *
 * <ul>
 *   <li>Fault taken by a Java load (thread state "in Java"): the safepoint waits for that thread
 *       forever, and the handler thread stops at the safepoint before it can serve the fault:
 *       the whole JVM deadlocks.</li>
 *   <li>Fault taken inside a native call (here madvise(MADV_POPULATE_READ); likewise read(2) or
 *       write(2) on the memory): the thread counts as safepoint-safe, the GC runs, and the
 *       fault is served afterwards.</li>
 * </ul>
 * If a future JDK stops deadlocking in the first case, the first test fails and tells us.
 */
class JvmSafepointHazardTest {

    @Test
    void faultInJavaCodePlusSafepointDeadlocksTheJvm() throws Exception {
        Result r = run("java", Duration.ofSeconds(8));
        System.out.println("java-state fault + System.gc(): " + (r.hung
                ? "the child JVM deadlocked, as this test expects (the hazard the library keeps Java code from), and was killed"
                : "the child JVM exited: the deadlock this test expects did not happen") + "; its output: " + r.output);
        assertTrue(r.output.contains("fault read"), r.output);
        assertTrue(r.hung, "expected the JVM to deadlock: " + r.output);
        assertFalse(r.output.contains("served"), r.output);
    }

    @Test
    void faultInNativeCodePlusSafepointIsServed() throws Exception {
        Result r = run("native", Duration.ofSeconds(30));
        System.out.println("native-state fault + System.gc(): " + r.output);
        assertFalse(r.hung, r.output);
        assertTrue(r.output.contains("gc done"), r.output);
        assertTrue(r.output.contains("served"), r.output);
        assertTrue(r.output.contains("toucher done"), r.output);
        assertEquals(0, r.exit, r.output);
    }

    private record Result(boolean hung, int exit, String output) {
    }

    private static Result run(String mode, Duration limit) throws Exception {
        ChildJvm.Result r = ChildJvm.run(Child.class, limit, List.of("-Xmx64m"), mode);
        return new Result(r.hung(), r.exit(), r.output().replace('\n', '|'));
    }

    /** The child JVM: one thread faults, the main thread reads the fault, forces a GC, then serves it. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            boolean nativeFault = args[0].equals("native");
            Userfaultfd uffd = Userfaultfd.open();
            Mapping m = Memory.anonymous(Memory.pageSize());
            EventBuffer events = EventBuffer.allocate(1);
            uffd.register(m.segment(), RegisterMode.MISSING);
            Thread toucher = Thread.ofPlatform().daemon().start(() -> {
                if (nativeFault) {
                    m.populateRead(0, Memory.pageSize());
                } else {
                    m.segment().get(ValueLayout.JAVA_BYTE, 0);
                }
                System.err.println("toucher done");
            });
            uffd.read(events);
            System.err.println("fault read");
            Thread gc = Thread.ofPlatform().daemon().start(() -> {
                System.gc();
                System.err.println("gc done");
            });
            Thread.sleep(500);
            uffd.zeropage(m.segment(), 0);
            System.err.println("served");
            toucher.join();
            gc.join();
            System.exit(0);
        }
    }
}
