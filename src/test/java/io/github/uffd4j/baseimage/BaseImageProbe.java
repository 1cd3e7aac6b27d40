package io.github.uffd4j.baseimage;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.FailurePolicy;
import io.github.uffd4j.handler.FaultFailure;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.snapshot.LiveSnapshots;
import io.github.uffd4j.snapshot.Quiesce;
import io.github.uffd4j.snapshot.SnapshotFile;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Run by {@link BaseImageTest} in a runtime image of java.base alone, uffd4j on the module path:
 * every path that would make a JFR event when a recorder runs (handler batches, a failure, a
 * snapshot) runs here without the jdk.jfr module. Prints what it did; exits 0 when all worked.
 */
public final class BaseImageProbe {

    private BaseImageProbe() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println("modules: " + ModuleLayer.boot().modules().size() + ", jdk.jfr present: "
                + ModuleLayer.boot().findModule("jdk.jfr").isPresent() + ", uffd4j is module "
                + LazySegment.class.getModule().getName());
        long size = 4 << 20;
        try (LazySegment data = LazySegment.open(size, (offset, dst) -> {
            for (long p = 0; p < dst.byteSize(); p += 4096) { // fault-around: several pages at once
                dst.asSlice(p, 4096).fill((byte) ((offset + p) >>> 12));
            }
        })) {
            for (long o = 0; o < size; o += 4096) {
                if (data.getByte(o + 7) != (byte) (o >>> 12)) {
                    throw new AssertionError("wrong byte at " + (o + 7));
                }
            }
            System.out.println("LAZY OK " + data.stats().pagesLoaded() + " pages");
        }
        AtomicInteger failures = new AtomicInteger();
        try (LazySegment bad = LazySegment.builder(1 << 20, (offset, dst) -> {
                    throw new IOException("failing on purpose");
                })
                .failurePolicy(new FailurePolicy(0, Duration.ofSeconds(5), FailurePolicy.Fallback.ZERO_PAGE))
                .onFailure((FaultFailure f) -> failures.incrementAndGet()).open()) {
            byte b = bad.getByte(0);
            for (int i = 0; i < 500 && failures.get() == 0; i++) {
                Thread.sleep(10); // the listener runs on a service thread
            }
            System.out.println("FAILURE OK " + b + " after " + failures.get() + " reported");
        }
        Path file = Files.createTempFile("base-image", ".u4s");
        Files.delete(file);
        try (Mapping m = Memory.anonymous(64 * Memory.pageSize()); LiveSnapshots snaps = LiveSnapshots.of(m.segment())) {
            m.segment().set(ValueLayout.JAVA_LONG, 5 * Memory.pageSize(), 42);
            snaps.snapshot(file, Quiesce.NONE).await(Duration.ofSeconds(30));
            System.out.println("SNAPSHOT OK " + SnapshotFile.describe(file));
        } finally {
            Files.deleteIfExists(file);
        }
        System.out.println("ALL OK");
    }
}
