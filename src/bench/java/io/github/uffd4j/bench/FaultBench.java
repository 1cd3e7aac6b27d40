package io.github.uffd4j.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;


/**
 * Cases a–e and h, and the floor, on the raw binding with one touching thread and one handler
 * thread ({@link RawHandler}): ops/s where an op is one touched unit (one fault, or one ioctl for
 * the {@code ioctl-*} cases). The same cases as the C reference, under the same names.
 */
@State(Scope.Thread)
public class FaultBench extends TouchBench {

    @Param({"copy4k-seq", "copy4k-rand", "copy64k-seq", "copy64k-rand", "zeropage", "minor", "wp",
            "ioctl-copy", "ioctl-wake", "ioctl-wp", "floor"})
    public String c;


    @Setup(Level.Trial)
    public void open() {
        workload = Workload.open(Case.of(c));
        toucher = workload.toucher(0);
    }
}
