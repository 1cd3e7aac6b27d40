package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Native;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Shared memory (a memfd, on shmem or hugetlbfs) mapped twice: the {@link #view()} that an
 * application uses and registers with a userfaultfd, and the {@link #alias()} through which a
 * handler writes contents without faulting. MINOR faults are resolved by writing the page through
 * the alias, then {@link Userfaultfd#continueRange UFFDIO_CONTINUE} on the view.
 *
 * <p>Thread safe, like its two {@link Mapping}s.
 */
public final class SharedMemory implements AutoCloseable {

    private final int fd;
    private final Mapping view;
    private final Mapping alias;
    private final AtomicBoolean closed = new AtomicBoolean();

    SharedMemory(int fd, Mapping view, Mapping alias) {
        this.fd = fd;
        this.view = view;
        this.alias = alias;
    }

    /**
     * The memfd descriptor (closed by {@link #close()}).
     *
     * @return the memfd
     */
    public int fd() {
        return fd;
    }

    /**
     * The mapping the application uses; register this one.
     *
     * @return the view mapping
     */
    public Mapping view() {
        return view;
    }

    /**
     * A second mapping of the same pages, never registered, for filling contents.
     *
     * @return the alias mapping
     */
    public Mapping alias() {
        return alias;
    }

    /**
     * The size in bytes.
     *
     * @return the size of each mapping
     */
    public long byteSize() {
        return view.byteSize();
    }

    /**
     * The page size (the huge page size on hugetlbfs).
     *
     * @return the page size in bytes
     */
    public long pageSize() {
        return view.pageSize();
    }

    /**
     * A new private (copy-on-write) mapping of the whole memfd, like
     * {@link Memory#mapPrivate(int, long, long, boolean) Memory.mapPrivate(fd(), byteSize(),
     * pageSize(), false)}: reads see the pages written through {@link #view()} or
     * {@link #alias()}, writes stay private to it.
     *
     * @return the mapping, owned by the caller: {@link #close()} does not unmap it
     * @throws IllegalStateException when this shared memory is closed
     */
    public Mapping mapPrivate() {
        return mapPrivate(false);
    }

    /**
     * A new private (copy-on-write) mapping of the whole memfd, MAP_NORESERVE when
     * {@code noReserve} (on hugetlbfs: no huge pages reserved up front for its private copies);
     * see {@link Memory#mapPrivate(int, long, long, boolean)}.
     *
     * @param noReserve true for MAP_NORESERVE
     * @return the mapping, owned by the caller: {@link #close()} does not unmap it
     * @throws IllegalStateException when this shared memory is closed
     * @throws UffdException         {@code call()} "mmap": ENOMEM when the huge page pool is short
     *                               (without {@code noReserve})
     */
    public Mapping mapPrivate(boolean noReserve) {
        if (closed.get()) {
            throw new IllegalStateException("mmap: this shared memory is closed (its memfd " + fd + " with it)");
        }
        return Memory.mapPrivate(fd, byteSize(), pageSize(), noReserve);
    }

    /** Unmaps both mappings and closes the memfd. Idempotent: closing again does nothing. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            view.close();
            alias.close();
        } finally {
            Native.close(fd);
        }
    }
}
