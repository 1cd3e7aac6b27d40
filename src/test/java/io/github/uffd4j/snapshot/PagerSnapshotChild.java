package io.github.uffd4j.snapshot;

import io.github.uffd4j.pager.PagedMemory;
import io.github.uffd4j.pager.PagedSnapshot;
import io.github.uffd4j.pager.RegionSpec;
import io.github.uffd4j.pager.Sources;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The app of {@link PagerSnapshotTest}, in a child JVM (a plain Java store that faults waits for
 * the pager, and a safepoint with it: a bug here freezes this JVM, never the test's). Maps SIZE
 * bytes of BACKING memory that a pager it launches fills from {@code pattern:SEED}; a reader reads
 * the first quarter (pages present and unwritten), two {@link StampingWriters} stamp random whole
 * pages with plain Java stores while another thread calls System.gc() in a loop; a snapshot is
 * taken by the pager while they write, and the file is checked page by page against what every
 * page held at the instant: its last stamp, or the pattern for a page never written (present or
 * not). Prints RESULT.
 *
 * <p>Arguments: SIZE SEED BACKING FILE [discard]. Pages are 4 KiB, 2 MiB for HUGETLB. With
 * {@code discard}, the last MiB holds contents of its own (written before the instant) and its
 * last pages are zapped with madvise right after the snapshot is taken; DISCARD says how the
 * snapshot ended: refused (no file), or completed, which is right only if the pager had copied
 * those pages before the zap, so the file is then checked like any other (RESULT).
 */
public final class PagerSnapshotChild {

    private PagerSnapshotChild() {
    }

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        long seed = Long.parseLong(args[1]);
        RegionSpec.Backing backing = RegionSpec.Backing.valueOf(args[2]);
        Path file = Path.of(args[3]);
        boolean discard = args.length > 4 && args[4].equals("discard");
        int unit = backing == RegionSpec.Backing.HUGETLB ? 2 << 20 : 4096; // the unit of writes and of the snapshot
        int pages = (int) (size / unit);
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong gcs = new AtomicLong();
        Thread gc = Thread.ofPlatform().daemon().start(() -> {
            while (!done.get()) {
                System.gc();
                gcs.incrementAndGet();
                try {
                    Thread.sleep(2); // a GC every few milliseconds: the writers run between them
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try (PagedMemory pager = PagedMemory.builder().connect()) {
            PagedMemory.Region region = pager.map("stamped", size, URI.create("pattern:" + seed), backing, null);
            MemorySegment m = region.segment();
            long sum = 0;
            for (long o = 0; o < size / 4; o += 8) {
                sum += m.get(ValueLayout.JAVA_LONG, o); // present, never written: the pattern
            }
            long marked = discard ? size - (1 << 20) : size; // from here on: contents of their own, not the source's
            for (long o = marked; o < size; o += 8) {
                m.set(ValueLayout.JAVA_LONG, o, ~Sources.patternWord(seed, o)); // present at the instant, the pages to discard
            }
            StampingWriters writers = new StampingWriters(pages, unit == 4096 ? 400_000 : 4_000, (w, page, stamp) -> {
                long base = page * unit;
                for (long o = 0; o < unit; o += 8) {
                    m.set(ValueLayout.JAVA_LONG, base + o, stamp); // plain Java stores, JIT-compiled soon
                }
            });
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (writers.writes() < (unit == 4096 ? 5000 : 20) && System.nanoTime() < deadline) {
                Thread.sleep(5); // pages written before the instant, and the writers' loop compiled
            }
            long before = writers.writes();
            PagedSnapshot s = region.snapshot(file, writers);
            long instant = writers.atPause();
            if (discard) {
                // pages present at the instant (read before it), zapped behind the pager's back: the last
                // ones of the region, which the background save reaches last
                Snapshot.Progress atDiscard = s.progress();
                long events = pager.stats().events();
                io.github.uffd4j.Memory.dontNeed(m.address() + size - (64 << 10), 64 << 10);
                String outcome;
                try {
                    s.await(Duration.ofMinutes(2));
                    outcome = "completed"; // allowed only if the pager had copied every page before the zap: checked below
                } catch (SnapshotException e) {
                    outcome = e.getMessage().contains("discarded") ? "refused" : "failed: " + e.getMessage();
                }
                System.out.printf("DISCARD outcome=%s fileExists=%b savedBeforeDiscard=%d pagerEvents=%d->%d%n", outcome,
                        java.nio.file.Files.exists(file), atDiscard.savedInBackground() + atDiscard.savedBeforeWrite(), events,
                        pager.stats().events());
                if (!outcome.equals("completed")) {
                    writers.close();
                    done.set(true);
                    return;
                }
            } else {
                s.await(Duration.ofMinutes(2));
            }
            long during = writers.writes() - before;
            Snapshot.Progress p = s.progress();
            writers.close();
            done.set(true);
            gc.join();
            for (Throwable t : writers.errors) {
                t.printStackTrace();
            }
            long[] expected = writers.stateAt(instant);
            long bad = 0;
            long firstBad = -1;
            try (SnapshotFile f = SnapshotFile.open(file); Arena arena = Arena.ofConfined()) {
                f.verify();
                MemorySegment page = arena.allocate(unit);
                for (int i = 0; i < pages; i++) {
                    f.fill((long) i * unit, page);
                    for (long o = 0; o < unit; o += 8) {
                        long at = (long) i * unit + o;
                        long want = expected[i] != 0 ? expected[i]
                                : at >= marked ? ~Sources.patternWord(seed, at) : Sources.patternWord(seed, at);
                        if (page.get(ValueLayout.JAVA_LONG, o) != want) {
                            bad++;
                            if (firstBad < 0) {
                                firstBad = (long) i * unit + o;
                            }
                        }
                    }
                }
            }
            System.out.printf("RESULT pages=%d bad=%d firstBad=%d instant=%d writesDuringSnapshot=%d savedBeforeWrite=%d "
                            + "savedInBackground=%d gcs=%d errors=%d pauseMicros=%d sum=%d%n", pages, bad, firstBad, instant, during,
                    p.savedBeforeWrite(), p.savedInBackground(), gcs.get(), writers.errors.size(), s.pause().toNanos() / 1000,
                    sum & 1);
        }
    }
}
