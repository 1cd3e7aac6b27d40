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
