package io.github.uffd4j;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Native;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Maps the off-heap memory that userfaultfd works on. Every mapping is released by closing it. */
public final class Memory {

    private static final long PAGE_SIZE = probePageSize();

    private Memory() {
    }

    private static long probePageSize() {
        if (!Native.isAvailable()) {
            return 4096;
        }
        long p = Native.sysconf(UffdNative._SC_PAGESIZE());
        return p > 0 ? p : 4096;
    }

    /** The base page size (sysconf(_SC_PAGESIZE)). */
    public static long pageSize() {
        return PAGE_SIZE;
    }

    /** Rounds {@code bytes} up to a multiple of {@code page}. */
    public static long roundUp(long bytes, long page) {
        return (bytes + page - 1) / page * page;
    }

    /** Private anonymous memory, {@code size} bytes (rounded up to whole pages), not yet populated. */
    public static Mapping anonymous(long size) {
        Native.ensureAvailable();
        long len = checkedSize(size, PAGE_SIZE);
        long address = map(len, UffdNative.MAP_PRIVATE() | UffdNative.MAP_ANONYMOUS() | UffdNative.MAP_NORESERVE(), -1);
        return new Mapping(address, len, PAGE_SIZE, Mapping.Kind.ANONYMOUS);
    }

    /**
     * Private anonymous hugetlb memory of {@code pageSize} pages. The huge page pool must hold
     * enough free pages ({@link #freeHugePages}, {@link #reserveHugePages}); else ENOMEM.
     */
    public static Mapping hugetlb(long size, HugePageSize pageSize) {
        Native.ensureAvailable();
        long len = checkedSize(size, pageSize.bytes());
        long address = map(len, UffdNative.MAP_PRIVATE() | UffdNative.MAP_ANONYMOUS()
                | UffdNative.MAP_HUGETLB() | pageSize.mmapFlag(), -1);
        return new Mapping(address, len, pageSize.bytes(), Mapping.Kind.HUGETLB);
    }

    /** Shared memory on shmem (a memfd) mapped twice: a view to register and an alias to fill it. */
    public static SharedMemory shared(long size) {
        return sharedMemory(size, null);
    }

    /** Shared memory on hugetlbfs (a memfd with MFD_HUGETLB) mapped twice. */
    public static SharedMemory sharedHugetlb(long size, HugePageSize pageSize) {
        return sharedMemory(size, pageSize);
    }

    private static SharedMemory sharedMemory(long size, HugePageSize huge) {
        Native.ensureAvailable();
        long page = huge == null ? PAGE_SIZE : huge.bytes();
        long len = checkedSize(size, page);
        int flags = UffdNative.MFD_CLOEXEC() | (huge == null ? 0 : UffdNative.MFD_HUGETLB() | huge.memfdFlag());
        int fd = Native.memfdCreate("uffd4j", flags);
        if (fd < 0) {
            throw Failures.of("memfd_create", Native.errno());
        }
        Mapping view = null;
        try {
            if (Native.ftruncate(fd, len) != 0) {
                throw Failures.of("ftruncate", Native.errno(), 0, len, 0);
            }
            Mapping.Kind kind = huge == null ? Mapping.Kind.SHMEM : Mapping.Kind.SHARED_HUGETLB;
            int shared = UffdNative.MAP_SHARED();
            view = new Mapping(map(len, shared, fd), len, page, kind);
            Mapping alias = new Mapping(map(len, shared, fd), len, page, kind);
            return new SharedMemory(fd, view, alias);
        } catch (RuntimeException e) {
            if (view != null) {
                view.close();
            }
            Native.close(fd);
            throw e;
        }
    }

    private static long checkedSize(long size, long page) {
        if (size <= 0) {
            throw new IllegalArgumentException("size must be positive, not " + size);
        }
        return roundUp(size, page);
    }

    private static long map(long len, int flags, int fd) {
        long address = Native.mmap(0, len, UffdNative.PROT_READ() | UffdNative.PROT_WRITE(), flags, fd, 0);
        if (address == -1) {
            int e = Native.errno();
            throw Failures.of("mmap", e, 0, len, 0);
        }
        return address;
    }

    /** Free pages in the pool of {@code size} (0 when the size is not supported). */
    public static long freeHugePages(HugePageSize size) {
        return readLong(Path.of(size.sysfsDir(), "free_hugepages"));
    }

    /** Pages in the pool of {@code size}. */
    public static long totalHugePages(HugePageSize size) {
        return readLong(Path.of(size.sysfsDir(), "nr_hugepages"));
    }

    /**
     * Grows the pool of {@code size} so that at least {@code free} pages are free (needs root).
     * Returns whether that many are free afterwards (the kernel may find less contiguous memory).
     */
    public static boolean reserveHugePages(HugePageSize size, long free) throws IOException {
        long have = freeHugePages(size);
        if (have >= free) {
            return true;
        }
        Path nr = Path.of(size.sysfsDir(), "nr_hugepages");
        Files.writeString(nr, Long.toString(totalHugePages(size) + free - have));
        return freeHugePages(size) >= free;
    }

    private static long readLong(Path file) {
        try {
            return Long.parseLong(Files.readString(file).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }
}
