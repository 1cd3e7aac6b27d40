package io.github.uffd4j.handler;

import io.github.uffd4j.Memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/** How a region is served: made by {@link FaultService#region}. Not thread safe. */
public final class RegionBuilder {
    private final FaultService service;
    final MemorySegment memory;
    long pageSize = Memory.pageSize();
    PageSource source;
    FaultHandler handler;
    WriteFaultHook writeHook;
    MemorySegment alias;
    java.util.BitSet present;
    String name;
    Boolean background;
    boolean hugePageBlocks;

    RegionBuilder(FaultService service, MemorySegment memory) {
        this.service = service;
        this.memory = Objects.requireNonNull(memory, "memory");
    }

    /**
     * The page size of the memory (the huge page size for hugetlb; default the base page size).
     *
     * @param bytes the page size in bytes
     * @return this builder
     */
    public RegionBuilder pageSize(long bytes) {
        if (bytes < Memory.pageSize() || Long.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("pageSize must be a power of two of at least " + Memory.pageSize() + ", not " + bytes);
        }
        this.pageSize = bytes;
        return this;
    }

    /**
     * Fills missing pages.
     *
     * @param source the page source
     * @return this builder
     */
    public RegionBuilder source(PageSource source) {
        this.source = source;
        return this;
    }

    /**
     * Decides per fault instead of a page source.
     *
     * @param handler the handler
     * @return this builder
     */
    public RegionBuilder handler(FaultHandler handler) {
        this.handler = handler;
        return this;
    }

    /**
     * Also registers write-protect mode, with {@code hook} run on each write-protect fault.
     *
     * @param hook runs before each write to a protected page
     * @return this builder
     */
    public RegionBuilder writeProtect(WriteFaultHook hook) {
        this.writeHook = Objects.requireNonNull(hook, "hook");
        return this;
    }

    /**
     * MINOR mode: the unregistered second mapping of the same shared memory, written through before CONTINUE.
     *
     * @param alias the second mapping, as large as the region
     * @return this builder
     */
    public RegionBuilder alias(MemorySegment alias) {
        this.alias = alias;
        return this;
    }

    /**
     * Pages already in place when the region is registered (bit {@code i}: page {@code i}): they
     * are never loaded. For a service taking over memory that another service filled in part
     * (a replacement pager finding shared memory's page cache filled, see
     * {@link io.github.uffd4j.Mapping#residentPages}).
     *
     * @param pages the pages in place
     * @return this builder
     */
    public RegionBuilder presentPages(java.util.BitSet pages) {
        this.present = (java.util.BitSet) pages.clone();
        return this;
    }

    /**
     * Says the memory may hold transparent huge pages: private anonymous memory whose start is
     * aligned to the huge page size and which is advised MADV_HUGEPAGE
     * ({@link io.github.uffd4j.Memory#anonymousAligned}, {@link io.github.uffd4j.Mapping#hugePage}),
     * or any private anonymous memory where /sys/kernel/mm/transparent_hugepage/enabled says
     * {@code always}. Loaders then fill every whole aligned huge-page block of a run (readahead
     * and background fill make such runs) by moving one huge page into it from their staging
     * buffer (UFFDIO_MOVE) instead of copying its pages one by one: no page allocation and copy
     * per page, and one page-table entry where there would be 512. {@link LazySegment} does this
     * for its own memory. Without the advice a missing fault leaves a page table in the block,
     * which makes the kernel split the huge page it moves: slower than a copy, hence off by
     * default. Has no effect where the kernel lacks UFFDIO_MOVE (Linux 6.8+) or transparent huge
     * pages, nor for a userfaultfd the service did not open itself; memory the kernel refuses to
     * move pages into is copied into from the first refusal on.
     *
     * @return this builder
     */
    public RegionBuilder hugePageBlocks() {
        this.hugePageBlocks = true;
        return this;
    }

    /**
     * A name for logs, failures and JFR.
     *
     * @param name the name
     * @return this builder
     */
    public RegionBuilder name(String name) {
        this.name = name;
        return this;
    }

    /**
     * Whether the background filler serves this region (default: the service's setting).
     *
     * @param on whether the filler serves the region
     * @return this builder
     */
    public RegionBuilder backgroundFill(boolean on) {
        this.background = on;
        return this;
    }

    /**
     * Registers the region with the userfaultfd; faults on it are served from now on.
     *
     * @return the region, served from now on
     */
    public Region register() {
        return service.add(this);
    }
}
