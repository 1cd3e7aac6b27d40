package io.github.uffd4j.migrate;

import io.github.uffd4j.HugePageSize;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The source JVM of {@link MigrationTest}: memory with half its pages stamped (the rest zeros),
 * two plain-Java writers stamping random pages while it migrates, stopped at the switchover. Once
 * the migration returns, the memory as it was at the switchover (the writers stay stopped) is
 * written to a file for the test to compare with the target's.
 *
 * <p>Arguments: port, MiB, expected-file, then any of {@code exit-at-switchover} to die when the
 * writers are stopped (the connection cut at the switchover) and {@code hugetlb} to migrate
 * private hugetlb memory in 2 MiB pages (the test reserved them) instead of anonymous memory in
 * base pages, {@code zstd} or {@code lz4} to compress the precopy and the push.
 */
public final class MigrationSourceChild {

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        long size = Long.parseLong(args[1]) << 20;
        Path expected = Path.of(args[2]);
        List<String> flags = List.of(args).subList(3, args.length);
        boolean dieAtSwitchover = flags.contains("exit-at-switchover");
        boolean hugetlb = flags.contains("hugetlb");
        io.github.uffd4j.source.Compression compression = flags.contains("zstd") ? io.github.uffd4j.source.Compression.ZSTD
                : flags.contains("lz4") ? io.github.uffd4j.source.Compression.LZ4 : io.github.uffd4j.source.Compression.NONE;
        long page = Memory.pageSize();
        long migratePage = hugetlb ? HugePageSize.SIZE_2MB.bytes() : page;
        try (Mapping m = hugetlb ? Memory.hugetlb(size, HugePageSize.SIZE_2MB) : Memory.anonymous(size)) {
            MemorySegment s = m.segment();
            for (long p = 0; p < size / page; p += 2) {
                for (long o = 0; o < page; o += 512) {
                    s.set(ValueLayout.JAVA_LONG, p * page + o, p * 1_000_003 + o + 1);
                }
            }
            ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong writes = new AtomicLong();
            List<Thread> writers = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                writers.add(Thread.ofPlatform().daemon().start(() -> {
                    ThreadLocalRandom rnd = ThreadLocalRandom.current();
                    while (!stop.get()) {
                        gate.readLock().lock();
                        try {
                            long off = rnd.nextLong(size / 8) * 8;
                            s.set(ValueLayout.JAVA_LONG, off, writes.incrementAndGet());
                        } finally {
                            gate.readLock().unlock();
                        }
                        if ((writes.get() & 63) == 0) {
                            Thread.onSpinWait();
                        }
                    }
                }));
            }
            Thread.sleep(50);
            MigrationSource.Writers control = new MigrationSource.Writers() {
                @Override
                public void stop() {
                    gate.writeLock().lock();
                    System.out.println("STOPPED after " + writes.get() + " writes");
                    if (dieAtSwitchover) {
                        Runtime.getRuntime().halt(3);
                    }
                }

                @Override
                public void resume() {
                    gate.writeLock().unlock();
                }
            };
            MigrationSource.Report r = MigrationSource.migrate(s, migratePage,
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), port), control,
                    MigrationSource.Options.DEFAULT.withCompression(compression));
            System.out.println("REPORT " + r);
            try (FileChannel ch = FileChannel.open(expected, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(s.asByteBuffer());
            }
            System.out.println("MIGRATED");
            stop.set(true);
            System.exit(0);
        }
    }
}
