package io.github.uffd4j.source;

import io.github.uffd4j.handler.PageSource;
import io.github.uffd4j.internal.Codecs;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.zip.CRC32C;

/**
 * A chunked file ({@link ChunkedWriter}; format in {@code ChunkedFormat}) as a page source: the
 * region's offset {@code o} holds the data's byte {@code o}, zeros past its end. Each chunk is
 * read with one ranged read, checked against its checksum and decompressed on the handler thread
 * that needs it (so handler threads decompress different chunks in parallel; two that need the
 * same chunk share one decode), then kept in a cache of decoded chunks bounded in bytes; a fill
 * that wants a whole chunk nobody has yet gets it decoded straight into place, without the cache
 * or a copy, and one that wants part of a chunk that no fill read before, nor the chunk before it
 * (a random read), gets its part without caching the chunk. When the runtime reads sequentially, the next chunks are decoded ahead on prefetch
 * threads. {@link #decodeAll} restores everything eagerly instead.
 *
 * <p>The header and the index are checked at open ({@link DatasetException} saying what is
 * wrong); a chunk that fails its checksum or does not decompress fails the pages that need it
 * (the runtime's {@code PageLoadException}, caused by a {@link DatasetException} naming the
 * chunk and where it is stored), never gives wrong bytes, and is not cached. Thread safe.
 *
 * <pre>{@code
 * try (ChunkedSource data = ChunkedSource.open(Path.of("/data/big.u4c"));
 *      LazySegment memory = LazySegment.builder(data.size(), data).open()) {
 *     long v = memory.getLong(12345 * 8);
 * }
 * }</pre>
 */
public final class ChunkedSource implements PageSource, AutoCloseable {

    private final RangeReader in;
    private final ChunkedFormat.Header header;
    private final ChunkedFormat.Index index;
    private final long cacheBytes;
    private final int prefetch;
    private final ExecutorService prefetcher;
    private final int maxStored;
    private final Map<Integer, byte[]> cache = new LinkedHashMap<>(64, 0.75f, true);
    private final Map<Integer, CompletableFuture<byte[]>> loading = new ConcurrentHashMap<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicLong decoded = new AtomicLong();
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong prefetched = new AtomicLong();
    private final AtomicLong storedRead = new AtomicLong();
    private final ThreadLocal<MemorySegment[]> scratch;
    private long cached;
    private volatile int lastChunk = -2;
    /** Chunks any fill has read (one bit each): a part of a chunk whose chunk and predecessor nobody read is a random read. */
    private final AtomicLongArray read;
    private volatile boolean closed;

    private ChunkedSource(Builder b, RangeReader in) throws IOException {
        this.in = in;
        ChunkedFormat.Layout layout = ChunkedFormat.readChecked(in);
        this.index = layout.index();
        this.header = layout.header();
        this.read = new AtomicLongArray((int) ((header.chunkCount() + 63) / 64));
        Codecs.decoder(header.compression(), DatasetException::new); // a missing library fails at open, not at the first fault
        this.cacheBytes = Math.max(b.cacheBytes, 2L * header.chunkSize());
        this.prefetch = b.prefetchThreads == 0 ? 0 : b.prefetch;
        AtomicInteger n = new AtomicInteger();
        this.prefetcher = prefetch == 0 ? null : Executors.newFixedThreadPool(b.prefetchThreads,
                r -> Thread.ofPlatform().daemon().name("uffd4j-prefetch-" + n.incrementAndGet()).unstarted(r));
        int max = 0;
        for (int len : index.lengths()) {
            max = Math.max(max, len);
        }
        this.maxStored = max;
        int chunk = header.chunkSize();
        int stored = Math.max(1, maxStored);
        // per thread: the stored bytes and the decoded chunk, off heap (native decoders take no heap memory)
        this.scratch = ThreadLocal.withInitial(() -> new MemorySegment[] {Arena.ofAuto().allocate(stored),
                Arena.ofAuto().allocate(chunk)});
    }

    /**
     * Opens a chunked file with the default settings.
     *
     * @param file the chunked file
     * @return the source, owned by the caller (close it)
     * @throws IOException when the file cannot be read, or is not a whole, valid chunked file
     *                     ({@link DatasetException})
     */
    public static ChunkedSource open(Path file) throws IOException {
        return builder().open(file);
    }

    /**
     * Whether {@code in} starts like a chunked file (its magic; the rest is checked at open).
     *
     * @param in the data to look at
     * @return true when its first bytes are the chunked format's magic
     * @throws IOException when the first bytes cannot be read
     */
    public static boolean isChunked(RangeReader in) throws IOException {
        return ChunkedFormat.hasMagic(in);
    }

    /**
     * Settings for opening a chunked source: cache size and prefetching.
     *
     * @return a builder with the defaults
     */
    public static Builder builder() {
        return new Builder();
    }

    /** How a chunked source caches and prefetches. Not thread safe. */
    public static final class Builder {
        private long cacheBytes = 64L << 20;
        private int prefetch = 4;
        private int prefetchThreads = 1;

        private Builder() {
        }

        /**
         * The most memory (Java heap) decoded chunks may take (default 64 MiB; at least two chunks).
         *
         * @param bytes the cache's bound in bytes
         * @return this builder
         */
        public Builder cacheBytes(long bytes) {
            if (bytes <= 0) {
                throw new IllegalArgumentException("cache size must be positive: " + bytes);
            }
            this.cacheBytes = bytes;
            return this;
        }

        /**
         * How many chunks to decode ahead of a sequential reader (default 4).
         *
         * @param chunks the chunks to decode ahead
         * @return this builder
         */
        public Builder prefetch(int chunks) {
            if (chunks < 0) {
                throw new IllegalArgumentException("prefetch must not be negative: " + chunks);
            }
            this.prefetch = chunks;
            return this;
        }

        /**
         * Threads that decode ahead (default 1; 0: no prefetch).
         *
         * @param n the prefetch thread count
         * @return this builder
         */
        public Builder prefetchThreads(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("prefetch threads must not be negative: " + n);
            }
            this.prefetchThreads = n;
            return this;
        }

        /**
         * Opens a chunked file.
         *
         * @param file the chunked file
         * @return the source, owned by the caller (close it)
         * @throws IOException when the file cannot be read, or is not a whole, valid chunked file
         *                     ({@link DatasetException})
         */
        public ChunkedSource open(Path file) throws IOException {
            return open(new FileRangeReader(file));
        }

        /**
         * Opens the chunked data {@code in} holds; the source owns {@code in} and closes it.
         *
         * @param in the chunked data
         * @return the source, owned by the caller (close it)
         * @throws IOException when {@code in} cannot be read, or does not hold valid chunked data
         *                     ({@link DatasetException})
         */
        public ChunkedSource open(RangeReader in) throws IOException {
            Objects.requireNonNull(in, "in");
            try {
                return new ChunkedSource(this, in);
            } catch (IOException | RuntimeException | Error e) {
                in.close();
                throw e;
            }
        }
    }

    /**
     * Bytes of data (what the file was packed from).
     *
     * @return the data size in bytes
     */
    public long size() {
        return header.dataSize();
    }

    /**
     * The data bytes per chunk (the last chunk may hold fewer).
     *
     * @return the chunk size in bytes
     */
    public int chunkSize() {
        return header.chunkSize();
    }

    /**
     * The number of chunks.
     *
     * @return the chunk count
     */
    public long chunkCount() {
        return header.chunkCount();
    }

    /**
     * The page size the file was packed for.
     *
     * @return the page size in bytes
     */
    public int pageSize() {
        return header.pageSize();
    }

    /**
     * How the chunks are compressed.
     *
     * @return the compression
     */
    public Compression compression() {
        return header.compression();
    }

    /**
     * Counters since open.
     *
     * @param chunksDecoded chunks read, checked and decompressed
     * @param cacheHits reads served from the cache of decoded chunks
     * @param prefetched chunks decoded ahead of a sequential reader
     * @param storedBytesRead bytes read from the file or store
     * @param cachedBytes bytes the cache holds now
     */
    public record Stats(long chunksDecoded, long cacheHits, long prefetched, long storedBytesRead, long cachedBytes) {
    }

    /**
     * The counters now.
     *
     * @return a snapshot of the counters
     */
    public Stats stats() {
        synchronized (cache) {
            return new Stats(decoded.get(), hits.get(), prefetched.get(), storedRead.get(), cached);
        }
    }

    /** Every byte of a destination is written: data, then zeros past its end. */
    @Override
    public boolean writesEveryByte() {
        return true;
    }

    @Override
    public void fill(long offset, MemorySegment destination) throws IOException {
        long end = offset + destination.byteSize();
        long dataEnd = Math.min(end, header.dataSize());
        int chunk = header.chunkSize();
        int first = (int) (offset / chunk);
        long pos = offset;
        while (pos < dataEnd) {
            int c = (int) (pos / chunk);
            int length = header.chunkLength(c);
            boolean readBefore = markRead(c) || (c > 0 && wasRead(c - 1));
            if (pos == (long) c * chunk && pos + length <= dataEnd && !isCachedOrLoading(c)) {
                // the whole chunk is wanted and nobody has it: decode it straight into place (no cache, no copies)
                decodeInto(c, destination.asSlice(pos - offset, length));
                pos += length;
                continue;
            }
            long from = pos - (long) c * chunk;
            long n = Math.min(length - from, dataEnd - pos);
            if (!readBefore && !isCachedOrLoading(c)) {
                // part of a chunk that no fill read before, nor the chunk before it: a random read, whose chunk the
                // next reads will not want; decoded into scratch, the part copied out, not cached (the cache's copy
                // and allocation made a 4 KiB random read of a 64 KiB chunk a third slower). A stream reads the
                // chunk before first, and any second read of a chunk goes through the cache.
                MemorySegment decoded = scratch.get()[1].asSlice(0, length);
                decodeInto(c, decoded);
                MemorySegment.copy(decoded, from, destination, pos - offset, n);
                pos += n;
                continue;
            }
            byte[] data = chunk(c);
            MemorySegment.copy(data, (int) from, destination, ValueLayout.JAVA_BYTE, pos - offset, (int) n);
            pos += n;
        }
        if (pos < end) {
            destination.asSlice(Math.max(0, pos - offset)).fill((byte) 0); // past the end of the data
        }
        int last = (int) ((Math.max(offset, dataEnd - 1)) / chunk);
        int previous = lastChunk;
        lastChunk = last;
        if (prefetcher != null && (first == previous || first == previous + 1)) {
            for (int k = 1; k <= prefetch; k++) {
                prefetch(last + k);
            }
        }
    }

    /** Chunk {@code c}'s data: from the cache, from another thread decoding it, or decoded here. */
    private byte[] chunk(int c) throws IOException {
        synchronized (cache) {
            byte[] hit = cache.get(c);
            if (hit != null) {
                hits.incrementAndGet();
                return hit;
            }
        }
        CompletableFuture<byte[]> mine = new CompletableFuture<>();
        CompletableFuture<byte[]> other = loading.putIfAbsent(c, mine);
        if (other != null) {
            try {
                return other.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw e;
            }
        }
        try {
            byte[] data = decode(c);
            synchronized (cache) {
                if (cache.put(c, data) == null) {
                    cached += data.length;
                }
                var it = cache.entrySet().iterator();
                while (cached > cacheBytes && it.hasNext()) {
                    var e = it.next();
                    if (e.getKey() != c) {
                        cached -= e.getValue().length;
                        it.remove();
                    }
                }
            }
            mine.complete(data);
            return data;
        } catch (IOException | RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            loading.remove(c, mine);
        }
    }

    private void prefetch(int c) {
        if (c >= header.chunkCount() || closed || queued.get() >= 2 * prefetch || isCachedOrLoading(c)) {
            return;
        }
        queued.incrementAndGet();
        try {
            prefetcher.execute(() -> {
                try {
                    if (!closed && !isCachedOrLoading(c)) { // again: a fault may have got there while this waited
                        chunk(c);
                        prefetched.incrementAndGet();
                    }
                } catch (IOException | RuntimeException e) {
                    // the fault that needs this chunk will decode it again and report the error
                } finally {
                    queued.decrementAndGet();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            queued.decrementAndGet();
        }
    }

    /** Notes that chunk {@code c} is read; returns whether it was read before. */
    private boolean markRead(int c) {
        long bit = 1L << (c & 63);
        return (read.getAndUpdate(c >>> 6, w -> w | bit) & bit) != 0;
    }

    private boolean wasRead(int c) {
        return (read.get(c >>> 6) & (1L << (c & 63))) != 0;
    }

    private boolean isCachedOrLoading(int c) {
        if (loading.containsKey(c)) {
            return true;
        }
        synchronized (cache) {
            return cache.containsKey(c);
        }
    }

    /** Reads, checks and decodes chunk {@code c} into a new array (for the cache). */
    private byte[] decode(int c) throws IOException {
        int length = header.chunkLength(c);
        MemorySegment out = scratch.get()[1].asSlice(0, length);
        decodeInto(c, out);
        byte[] data = new byte[length];
        MemorySegment.copy(out, ValueLayout.JAVA_BYTE, 0, data, 0, length);
        return data;
    }

    /** Reads, checks and decodes chunk {@code c} into {@code out}, exactly the chunk's length. */
    private void decodeInto(int c, MemorySegment out) throws IOException {
        long storedAt = index.offsets()[c];
        int storedLength = index.lengths()[c];
        int length = header.chunkLength(c);
        MemorySegment stored = scratch.get()[0].asSlice(0, storedLength);
        try {
            in.readFully(storedAt, stored.asByteBuffer());
        } catch (IOException e) {
            throw new DatasetException(where(c) + ": cannot be read: " + e.getMessage(), e);
        }
        storedRead.addAndGet(storedLength);
        int n;
        try {
            n = Codecs.decoder(header.compression(), DatasetException::new).decode(stored, out);
        } catch (DatasetException e) {
            throw e;
        } catch (Exception e) {
            throw new DatasetException(where(c) + ": cannot be decompressed (" + e.getMessage() + "): damaged", e);
        }
        if (n != length) {
            throw new DatasetException(where(c) + ": decompressed to " + n + " bytes instead of " + length + ": damaged");
        }
        CRC32C crc = new CRC32C();
        crc.update(out.asByteBuffer());
        if ((int) crc.getValue() != index.crcs()[c]) {
            throw new DatasetException(where(c) + ": checksum mismatch (index 0x" + Integer.toHexString(index.crcs()[c])
                    + ", data 0x" + Integer.toHexString((int) crc.getValue()) + "): damaged");
        }
        decoded.incrementAndGet();
    }

    /** Decodes chunk after chunk, taking the next number from {@code next}, into its place in {@code destination}. */
    private void decodeFrom(AtomicInteger next, MemorySegment destination) throws IOException {
        int chunks = (int) header.chunkCount();
        for (int c; (c = next.getAndIncrement()) < chunks; ) {
            decodeInto(c, destination.asSlice((long) c * header.chunkSize(), header.chunkLength(c)));
        }
    }

    /**
     * The eager way: reads, checks and decodes every chunk into {@code destination} (at least
     * {@link #size()} bytes; the rest is zeroed), on {@code threads} threads at once, without the
     * cache. For a baseline, or to restore a whole dataset now instead of on first touch.
     *
     * @param destination where the data goes, at least {@link #size()} bytes
     * @param threads how many threads decode at once
     * @throws IOException when a chunk cannot be read or fails its checks ({@link DatasetException})
     */
    public void decodeAll(MemorySegment destination, int threads) throws IOException {
        if (destination.byteSize() < header.dataSize()) {
            throw new IllegalArgumentException("destination has " + destination.byteSize() + " bytes, the data " + header.dataSize());
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        AtomicInteger next = new AtomicInteger();
        if (threads == 1) {
            decodeFrom(next, destination);
        } else {
            try (ExecutorService pool = Executors.newFixedThreadPool(threads, r -> Thread.ofPlatform().daemon().name("uffd4j-decode").unstarted(r))) {
                var all = new java.util.ArrayList<java.util.concurrent.Future<Void>>();
                for (int t = 0; t < threads; t++) {
                    all.add(pool.submit(() -> {
                        decodeFrom(next, destination);
                        return null;
                    }));
                }
                for (var f : all) {
                    try {
                        f.get();
                    } catch (java.util.concurrent.ExecutionException e) {
                        next.set((int) header.chunkCount()); // the others stop at their next chunk
                        if (e.getCause() instanceof IOException io) {
                            throw io;
                        }
                        throw new IOException(e.getCause());
                    } catch (InterruptedException e) {
                        next.set((int) header.chunkCount());
                        Thread.currentThread().interrupt();
                        throw new java.io.InterruptedIOException("interrupted while decoding " + in.describe());
                    }
                }
            }
        }
        destination.asSlice(header.dataSize()).fill((byte) 0);
    }

    /** Chunk {@code c} for an error message: the source, its data range, where it is stored (built only on failure). */
    private String where(int c) {
        long from = (long) c * header.chunkSize();
        return in.describe() + ": chunk " + c + " (data [" + from + ", " + (from + header.chunkLength(c)) + "), stored at "
                + index.offsets()[c] + ", " + index.lengths()[c] + " bytes)";
    }

    @Override
    public void close() throws IOException {
        closed = true;
        if (prefetcher != null) {
            prefetcher.shutdownNow();
        }
        in.close();
    }

    @Override
    public String toString() {
        return "ChunkedSource[" + in.describe() + ", " + header.compression() + ", " + header.chunkCount() + " chunks of "
                + header.chunkSize() + ", " + header.dataSize() + " bytes]";
    }
}
