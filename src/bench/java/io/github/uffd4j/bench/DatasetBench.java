package io.github.uffd4j.bench;

import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.handler.LazySegment;
import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.source.ChunkedSource;
import io.github.uffd4j.source.FileSource;
import io.github.uffd4j.source.S3RangeReader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * Lazy datasets against reading everything first (issue 13). One op starts cold (the dataset's
 * files dropped from the page cache, a new source, a new {@link LazySegment} with 2 handler
 * threads, 2 readahead threads and the runtime's other defaults; a chunked source without its own
 * prefetch, which the readahead threads replace) and does one of:
 * <ul>
 *   <li>{@code firstByte}: open, read one byte at a random offset: the time to first byte;</li>
 *   <li>{@code lookups}: open, read 8 bytes at each of {@link #lookupCount} random offsets (one
 *       per 6.4 MiB: what 1% of the dataset in 64 KiB records is);</li>
 *   <li>{@code lookupsParallel}: the same lookups from 4 threads at once;</li>
 *   <li>{@code scan}: open, sum every 8-byte word, in order, through 1 MiB slices;</li>
 *   <li>{@code eager}: the baseline: read (or download) and decompress everything into anonymous
 *       memory on 2 threads ({@link FileSource} fills, {@link ChunkedSource#decodeAll}), then
 *       read one byte: the eager time to first byte, and the cost eager lookups pay;</li>
 *   <li>{@code eagerScan}: the same, then sum every word: the eager full scan.</li>
 * </ul>
 * Datasets ({@link #dataset}): the plain file ({@link FileSource}); the file packed with zstd or
 * lz4 in 256 KiB or 1 MiB chunks, zstd in 64 and 16 KiB chunks too ({@link ChunkedSource}, default cache); the zstd
 * ones in a local S3 server (S3Proxy in this JVM, one S3 client made at setup and reused). After
 * each op (untimed) it records the JVM's RSS, the region's resident bytes and the chunk cache in
 * {@code target/bench/dataset-memory.csv} for the report. {@link MmapBench} is the plain file
 * through mmap with the same cold cache.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class DatasetBench {

    @Param({"1073741824"})
    public long size;

    @Param({"file", "zstd-1m", "zstd-256k", "zstd-64k", "zstd-16k", "lz4-1m", "lz4-256k", "s3-zstd-1m", "s3-zstd-256k"})
    public String dataset;

    static final Path MEMORY_LOG = Path.of("target/bench/dataset-memory.csv");
    static final long SLICE = 1L << 20;
    /** Readahead threads of the lazy side (-Duffd4j.bench.readahead=N, default 2). */
    static final int READAHEAD_THREADS = Integer.getInteger("uffd4j.bench.readahead", 2);
    /** Prefetch threads of a chunked source (-Duffd4j.bench.prefetch=N, default 0: the runtime's readahead does it). */
    static final int PREFETCH_THREADS = Integer.getInteger("uffd4j.bench.prefetch", 0);

    private String benchmark;
    private Datasets.LocalS3 s3;
    private String s3Key;
    private Path file;
    private long[] offsets;
    private AutoCloseable source;
    private LazySegment lazy;
    private Mapping eager;

    /** One lookup per 6.4 MiB: 1% of the dataset in 64 KiB records. */
    static int lookupCount(long size) {
        return (int) Math.max(1, size / (64 << 10) / 100);
    }

    static long[] offsets(long size) {
        SplittableRandom r = new SplittableRandom(42);
        long[] o = new long[lookupCount(size) + 1];
        for (int i = 0; i < o.length; i++) {
            o[i] = r.nextLong(size / 8) * 8;
        }
        return o;
    }

    @Setup(Level.Trial)
    public void prepare(BenchmarkParams params) throws Exception {
        benchmark = params.getBenchmark().substring(params.getBenchmark().lastIndexOf('.') + 1);
        offsets = offsets(size);
        file = Datasets.make(size, dataset);
        if (dataset.startsWith("s3-")) {
            s3 = new Datasets.LocalS3();
            s3Key = file.getFileName().toString();
            s3.upload(file, s3Key);
        }
    }

    @Setup(Level.Invocation)
    public void cold() throws IOException {
        Datasets.dropCache();
    }

    private PageSource openSource() throws IOException {
        if (dataset.equals("file")) {
            FileSource f = FileSource.open(file);
            source = f;
            return f;
        }
        ChunkedSource.Builder b = ChunkedSource.builder().prefetchThreads(PREFETCH_THREADS);
        ChunkedSource c = s3 != null ? b.open(S3RangeReader.open(s3.client, Datasets.BUCKET, s3Key)) : b.open(file);
        source = c;
        return c;
    }

    private LazySegment openLazy() throws IOException {
        return openLazy(false);
    }

    /** {@code random}: configured for random access (a fault-around of one page; a stream still grows its blocks). */
    private LazySegment openLazy(boolean random) throws IOException {
        PageSource src = openSource();
        LazySegment.Builder b = LazySegment.builder(size, src).threads(2).readaheadThreads(READAHEAD_THREADS).name("dataset-bench");
        if (random) {
            b.faultAround(Memory.pageSize());
        }
        lazy = b.open();
        return lazy;
    }

    private MemorySegment openEager() throws Exception {
        PageSource src = openSource();
        eager = Memory.anonymous(size);
        MemorySegment m = eager.segment();
        if (src instanceof ChunkedSource c) {
            c.decodeAll(m, 2);
        } else {
            List<Thread> threads = new ArrayList<>();
            List<Exception> failed = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int t = 0; t < 2; t++) {
                int first = t;
                threads.add(Thread.ofPlatform().start(() -> {
                    try {
                        for (long off = first * SLICE; off < size; off += 2 * SLICE) {
                            src.fill(off, m.asSlice(off, Math.min(SLICE, size - off)));
                        }
                    } catch (Exception e) {
                        failed.add(e);
                    }
                }));
            }
            for (Thread t : threads) {
                t.join();
            }
            if (!failed.isEmpty()) {
                throw failed.get(0);
            }
        }
        return m;
    }

    static long sum(MemorySegment s) {
        long sum = 0;
        for (long o = 0, n = s.byteSize() & ~7L; o < n; o += 8) {
            sum += s.get(ValueLayout.JAVA_LONG_UNALIGNED, o);
        }
        return sum;
    }

    @Benchmark
    public long firstByte() throws IOException {
        return openLazy().getByte(offsets[0]);
    }

    @Benchmark
    public long lookups() throws IOException {
        return lookups(openLazy());
    }

    /**
     * The same lookups with the lazy side configured for random access (a fault-around of one
     * page): each lookup loads its own page, not the 64 KiB around it.
     */
    @Benchmark
    public long lookupsRandomAccess() throws IOException {
        return lookups(openLazy(true));
    }

    private long lookups(LazySegment l) {
        long sum = 0;
        for (int i = 1; i < offsets.length; i++) {
            sum += l.getLong(offsets[i]);
        }
        return sum;
    }

    /** Threads of {@link #lookupsParallel}. */
    static final int LOOKUP_THREADS = 4;

    /**
     * The same lookups from {@link #LOOKUP_THREADS} threads, each taking every fourth one: a
     * server answering requests at once, where each request waits for its own page and the storage
     * serves several at a time.
     */
    @Benchmark
    public long lookupsParallel() throws Exception {
        LazySegment l = openLazy();
        java.util.concurrent.atomic.AtomicLong sum = new java.util.concurrent.atomic.AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < LOOKUP_THREADS; t++) {
            int first = 1 + t;
            threads.add(Thread.ofPlatform().start(() -> {
                long s = 0;
                for (int i = first; i < offsets.length; i += LOOKUP_THREADS) {
                    s += l.getLong(offsets[i]);
                }
                sum.addAndGet(s);
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        return sum.get();
    }

    @Benchmark
    public long scan() throws IOException {
        LazySegment l = openLazy();
        long sum = 0;
        for (long off = 0; off < size; off += SLICE) {
            sum += sum(l.slice(off, Math.min(SLICE, size - off)));
        }
        return sum;
    }

    @Benchmark
    public long eager() throws Exception {
        return openEager().get(ValueLayout.JAVA_BYTE, offsets[0]);
    }

    @Benchmark
    public long eagerScan() throws Exception {
        return sum(openEager());
    }

    @TearDown(Level.Invocation)
    public void close() throws Exception {
        long resident = lazy != null ? (long) lazy.region().presentPages() * Memory.pageSize() : eager != null ? size : 0;
        long cache = source instanceof ChunkedSource c ? c.stats().cachedBytes() : 0;
        record("DatasetBench", benchmark, dataset, resident, cache);
        if (lazy != null) {
            lazy.close();
            lazy = null;
        }
        if (eager != null) {
            eager.close();
            eager = null;
        }
        if (source != null) {
            source.close();
            source = null;
        }
    }

    /** Appends one line (bench,method,dataset,rss,resident,cache) to the memory log. */
    static void record(String bench, String method, String dataset, long resident, long cache) throws IOException {
        Files.createDirectories(MEMORY_LOG.getParent());
        Files.writeString(MEMORY_LOG, bench + "," + method + "," + dataset + "," + Datasets.rss() + "," + resident + "," + cache + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @TearDown(Level.Trial)
    public void stop() throws Exception {
        if (s3 != null) {
            s3.close();
            s3 = null;
        }
    }
}
