package io.github.uffd4j.migrate;

import io.github.uffd4j.MadviseBatch;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.SharedMemory;
import io.github.uffd4j.handler.FaultService;
import io.github.uffd4j.handler.RegionBuilder;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The memory a {@link MigrationTarget} receives into, of the {@link MigrationTarget.Backing} asked
 * for: one mapping (anonymous, hugetlb), or shared memory mapped twice (shmem, shared hugetlb: the
 * view the application uses, the alias the runtime fills the page cache through). The one place
 * that knows how each kind is written before the switchover, how a page is dropped, and how it is
 * registered. Not thread safe: the precopy runs on one thread, then the runtime owns it.
 */
final class TargetMemory implements AutoCloseable {

    private final MigrationTarget.Backing backing;
    /** Anonymous or private hugetlb memory; null for shared memory. */
    private final Mapping mapping;
    /** Shared memory; null otherwise. */
    private final SharedMemory shared;

    private TargetMemory(MigrationTarget.Backing backing, Mapping mapping, SharedMemory shared) {
        this.backing = backing;
        this.mapping = mapping;
        this.shared = shared;
    }

    /** Maps {@code size} bytes of {@code backing} (huge pages come from the pool: ENOMEM when it is short). */
    static TargetMemory map(MigrationTarget.Backing backing, long size) {
        return switch (backing.kind()) {
            case ANONYMOUS -> new TargetMemory(backing, Memory.anonymous(size), null);
            case HUGETLB -> new TargetMemory(backing, Memory.hugetlb(size, backing.hugePageSize()), null);
            case SHMEM -> new TargetMemory(backing, null, Memory.shared(size));
            case SHARED_HUGETLB -> new TargetMemory(backing, null, Memory.sharedHugetlb(size, backing.hugePageSize()));
        };
    }

    MigrationTarget.Backing backing() {
        return backing;
    }

    /**
     * The memory the application uses (the view, for shared memory). Before the switchover the
     * precopy writes it with plain stores (nothing is registered yet); for shared memory that maps
     * the written pages in the view, so that they never fault once it is registered in MINOR mode.
     */
    MemorySegment segment() {
        return shared != null ? shared.view().segment() : mapping.segment();
    }

    long pageSize() {
        return shared != null ? shared.pageSize() : mapping.pageSize();
    }

    Optional<SharedMemory> shared() {
        return Optional.ofNullable(shared);
    }

    /**
     * Drops pages (unregistered memory, before the switchover): they read as zeros again and,
     * once registered, fault. Private memory: MADV_DONTNEED. Shared memory: MADV_REMOVE, which
     * punches the pages out of the file (zapping the view only would leave the stale page cache
     * for the next fault to map).
     */
    void drop(long offset, long length) {
        if (shared != null) {
            shared.view().remove(offset, length);
        } else {
            mapping.dontNeed(offset, length);
        }
    }

    /** {@link #drop} for many runs at once, in few system calls (see {@link MadviseBatch}). */
    MadviseBatch dropBatch() {
        return shared != null ? shared.view().removeBatch() : mapping.dontNeedBatch();
    }

    /** A region over the memory for {@code service}: the view in MINOR mode through the alias for shared memory. */
    RegionBuilder region(FaultService service) {
        RegionBuilder b = service.region(segment()).pageSize(pageSize());
        return shared != null ? b.alias(shared.alias().segment()) : b;
    }

    @Override
    public void close() {
        if (shared != null) {
            shared.close();
        } else {
            mapping.close();
        }
    }
}
