package io.github.uffd4j.internal.linux;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.gen.cmsghdr;
import io.github.uffd4j.internal.gen.iovec;
import io.github.uffd4j.internal.gen.msghdr;
import io.github.uffd4j.internal.gen.page_region;
import io.github.uffd4j.internal.gen.pm_scan_arg;
import io.github.uffd4j.internal.gen.pollfd;
import io.github.uffd4j.internal.gen.sockaddr_un;
import io.github.uffd4j.internal.gen.ucred;
import io.github.uffd4j.internal.gen.uffd_msg;
import io.github.uffd4j.internal.gen.uffdio_api;
import io.github.uffd4j.internal.gen.uffdio_continue;
import io.github.uffd4j.internal.gen.uffdio_copy;
import io.github.uffd4j.internal.gen.uffdio_move;
import io.github.uffd4j.internal.gen.uffdio_poison;
import io.github.uffd4j.internal.gen.uffdio_range;
import io.github.uffd4j.internal.gen.uffdio_register;
import io.github.uffd4j.internal.gen.uffdio_writeprotect;
import io.github.uffd4j.internal.gen.uffdio_zeropage;

/**
 * The C ABI the binding uses: every constant and every struct offset and size, read once from the
 * jextract-generated classes (which nothing outside {@code internal.linux} reads). In a JVM that
 * denies native access (or not on Linux) every value is 0 and the generated classes are never
 * initialized, so enums and classes can read these in their static initializers; the first native
 * call then says what is missing ({@link Native#ensureAvailable()}).
 *
 * <p>Names are the C names; struct members are {@code STRUCT_MEMBER} offsets in bytes, with
 * {@code _RANGE} the offset of an embedded {@code struct uffdio_range} and {@code _RESULT} the
 * signed count the kernel writes back. Immutable constants: thread safe.
 */
public final class Abi {

    private static final boolean ON = Native.isAvailable();

    private Abi() {
    }

    // ---- constants -------------------------------------------------------------------------------

    public static final int O_RDONLY = ON ? UffdNative.O_RDONLY() : 0;
    public static final int O_RDWR = ON ? UffdNative.O_RDWR() : 0;
    public static final int O_CLOEXEC = ON ? UffdNative.O_CLOEXEC() : 0;
    public static final int PRIO_PROCESS = ON ? UffdNative.PRIO_PROCESS() : 0;
    public static final int O_NONBLOCK = ON ? UffdNative.O_NONBLOCK() : 0;
    public static final int EFD_CLOEXEC = ON ? UffdNative.EFD_CLOEXEC() : 0;
    public static final int EFD_NONBLOCK = ON ? UffdNative.EFD_NONBLOCK() : 0;
    public static final int POLLIN = ON ? UffdNative.POLLIN() : 0;
    public static final int POLLERR = ON ? UffdNative.POLLERR() : 0;
    public static final int POLLNVAL = ON ? UffdNative.POLLNVAL() : 0;
    public static final int POLLHUP = ON ? UffdNative.POLLHUP() : 0;
    public static final int POLLOUT = ON ? UffdNative.POLLOUT() : 0;
    public static final int PROT_NONE = ON ? UffdNative.PROT_NONE() : 0;
    public static final int PROT_READ = ON ? UffdNative.PROT_READ() : 0;
    public static final int PROT_WRITE = ON ? UffdNative.PROT_WRITE() : 0;
    public static final int MAP_PRIVATE = ON ? UffdNative.MAP_PRIVATE() : 0;
    public static final int MAP_SHARED = ON ? UffdNative.MAP_SHARED() : 0;
    public static final int MAP_ANONYMOUS = ON ? UffdNative.MAP_ANONYMOUS() : 0;
    public static final int MAP_NORESERVE = ON ? UffdNative.MAP_NORESERVE() : 0;
    public static final int MAP_HUGETLB = ON ? UffdNative.MAP_HUGETLB() : 0;
    public static final int MAP_FIXED = ON ? UffdNative.MAP_FIXED() : 0;
    public static final int MAP_FIXED_NOREPLACE = ON ? UffdNative.MAP_FIXED_NOREPLACE() : 0;
    public static final int MAP_HUGE_2MB = ON ? UffdNative.MAP_HUGE_2MB() : 0;
    public static final int MAP_HUGE_1GB = ON ? UffdNative.MAP_HUGE_1GB() : 0;
    public static final int MFD_CLOEXEC = ON ? UffdNative.MFD_CLOEXEC() : 0;
    public static final int MFD_HUGETLB = ON ? UffdNative.MFD_HUGETLB() : 0;
    public static final int MFD_HUGE_2MB = ON ? UffdNative.MFD_HUGE_2MB() : 0;
    public static final int MFD_HUGE_1GB = ON ? UffdNative.MFD_HUGE_1GB() : 0;
    public static final int MREMAP_MAYMOVE = ON ? UffdNative.MREMAP_MAYMOVE() : 0;
    public static final int MREMAP_FIXED = ON ? UffdNative.MREMAP_FIXED() : 0;
    public static final int MADV_NORMAL = ON ? UffdNative.MADV_NORMAL() : 0;
    public static final int MADV_RANDOM = ON ? UffdNative.MADV_RANDOM() : 0;
    public static final int MADV_SEQUENTIAL = ON ? UffdNative.MADV_SEQUENTIAL() : 0;
    public static final int MADV_DONTNEED = ON ? UffdNative.MADV_DONTNEED() : 0;
    public static final int MADV_REMOVE = ON ? UffdNative.MADV_REMOVE() : 0;
    public static final int MADV_PAGEOUT = ON ? UffdNative.MADV_PAGEOUT() : 0;
    public static final int MADV_HUGEPAGE = ON ? UffdNative.MADV_HUGEPAGE() : 0;
    public static final int MADV_NOHUGEPAGE = ON ? UffdNative.MADV_NOHUGEPAGE() : 0;
    public static final int MADV_DONTFORK = ON ? UffdNative.MADV_DONTFORK() : 0;
    public static final int MADV_DOFORK = ON ? UffdNative.MADV_DOFORK() : 0;
    public static final int MADV_COLLAPSE = ON ? UffdNative.MADV_COLLAPSE() : 0;
    public static final int MADV_POPULATE_READ = ON ? UffdNative.MADV_POPULATE_READ() : 0;
    public static final int MADV_POPULATE_WRITE = ON ? UffdNative.MADV_POPULATE_WRITE() : 0;
    public static final int _SC_PAGESIZE = ON ? UffdNative._SC_PAGESIZE() : 0;
    public static final int UFFD_USER_MODE_ONLY = ON ? UffdNative.UFFD_USER_MODE_ONLY() : 0;
    public static final int UFFD_EVENT_PAGEFAULT = ON ? UffdNative.UFFD_EVENT_PAGEFAULT() : 0;
    public static final int UFFD_EVENT_FORK = ON ? UffdNative.UFFD_EVENT_FORK() : 0;
    public static final int UFFD_EVENT_REMAP = ON ? UffdNative.UFFD_EVENT_REMAP() : 0;
    public static final int UFFD_EVENT_REMOVE = ON ? UffdNative.UFFD_EVENT_REMOVE() : 0;
    public static final int UFFD_EVENT_UNMAP = ON ? UffdNative.UFFD_EVENT_UNMAP() : 0;
    public static final int _UFFDIO_REGISTER = ON ? UffdNative._UFFDIO_REGISTER() : 0;
    public static final int _UFFDIO_UNREGISTER = ON ? UffdNative._UFFDIO_UNREGISTER() : 0;
    public static final int _UFFDIO_WAKE = ON ? UffdNative._UFFDIO_WAKE() : 0;
    public static final int _UFFDIO_COPY = ON ? UffdNative._UFFDIO_COPY() : 0;
    public static final int _UFFDIO_ZEROPAGE = ON ? UffdNative._UFFDIO_ZEROPAGE() : 0;
    public static final int _UFFDIO_MOVE = ON ? UffdNative._UFFDIO_MOVE() : 0;
    public static final int _UFFDIO_WRITEPROTECT = ON ? UffdNative._UFFDIO_WRITEPROTECT() : 0;
    public static final int _UFFDIO_CONTINUE = ON ? UffdNative._UFFDIO_CONTINUE() : 0;
    public static final int _UFFDIO_POISON = ON ? UffdNative._UFFDIO_POISON() : 0;
    public static final int _UFFDIO_API = ON ? UffdNative._UFFDIO_API() : 0;
    public static final int SYS_userfaultfd = ON ? UffdNative.SYS_userfaultfd() : 0;
    public static final int SYS_pidfd_open = ON ? UffdNative.SYS_pidfd_open() : 0;
    public static final int SYS_pidfd_getfd = ON ? UffdNative.SYS_pidfd_getfd() : 0;
    public static final int SYS_process_madvise = ON ? UffdNative.SYS_process_madvise() : 0;
    public static final int USERFAULTFD_IOC_NEW = ON ? UffdNative.USERFAULTFD_IOC_NEW() : 0;
    public static final long UFFD_API = ON ? UffdNative.UFFD_API() : 0;
    public static final long UFFDIO_API = ON ? UffdNative.UFFDIO_API() : 0;
    public static final long UFFDIO_REGISTER = ON ? UffdNative.UFFDIO_REGISTER() : 0;
    public static final long UFFDIO_UNREGISTER = ON ? UffdNative.UFFDIO_UNREGISTER() : 0;
    public static final long UFFDIO_WAKE = ON ? UffdNative.UFFDIO_WAKE() : 0;
    public static final long UFFDIO_COPY = ON ? UffdNative.UFFDIO_COPY() : 0;
    public static final long UFFDIO_ZEROPAGE = ON ? UffdNative.UFFDIO_ZEROPAGE() : 0;
    public static final long UFFDIO_MOVE = ON ? UffdNative.UFFDIO_MOVE() : 0;
    public static final long UFFDIO_WRITEPROTECT = ON ? UffdNative.UFFDIO_WRITEPROTECT() : 0;
    public static final long UFFDIO_CONTINUE = ON ? UffdNative.UFFDIO_CONTINUE() : 0;
    public static final long UFFDIO_POISON = ON ? UffdNative.UFFDIO_POISON() : 0;
    public static final long PAGEMAP_SCAN = ON ? UffdNative.PAGEMAP_SCAN() : 0;
    public static final int UFFD_PAGEFAULT_FLAG_WRITE = ON ? UffdNative.UFFD_PAGEFAULT_FLAG_WRITE() : 0;
    public static final int UFFD_PAGEFAULT_FLAG_WP = ON ? UffdNative.UFFD_PAGEFAULT_FLAG_WP() : 0;
    public static final int UFFD_PAGEFAULT_FLAG_MINOR = ON ? UffdNative.UFFD_PAGEFAULT_FLAG_MINOR() : 0;
    public static final int UFFD_FEATURE_PAGEFAULT_FLAG_WP = ON ? UffdNative.UFFD_FEATURE_PAGEFAULT_FLAG_WP() : 0;
    public static final int UFFD_FEATURE_EVENT_FORK = ON ? UffdNative.UFFD_FEATURE_EVENT_FORK() : 0;
    public static final int UFFD_FEATURE_EVENT_REMAP = ON ? UffdNative.UFFD_FEATURE_EVENT_REMAP() : 0;
    public static final int UFFD_FEATURE_EVENT_REMOVE = ON ? UffdNative.UFFD_FEATURE_EVENT_REMOVE() : 0;
    public static final int UFFD_FEATURE_MISSING_HUGETLBFS = ON ? UffdNative.UFFD_FEATURE_MISSING_HUGETLBFS() : 0;
    public static final int UFFD_FEATURE_MISSING_SHMEM = ON ? UffdNative.UFFD_FEATURE_MISSING_SHMEM() : 0;
    public static final int UFFD_FEATURE_EVENT_UNMAP = ON ? UffdNative.UFFD_FEATURE_EVENT_UNMAP() : 0;
    public static final int UFFD_FEATURE_SIGBUS = ON ? UffdNative.UFFD_FEATURE_SIGBUS() : 0;
    public static final int UFFD_FEATURE_THREAD_ID = ON ? UffdNative.UFFD_FEATURE_THREAD_ID() : 0;
    public static final int UFFD_FEATURE_MINOR_HUGETLBFS = ON ? UffdNative.UFFD_FEATURE_MINOR_HUGETLBFS() : 0;
    public static final int UFFD_FEATURE_MINOR_SHMEM = ON ? UffdNative.UFFD_FEATURE_MINOR_SHMEM() : 0;
    public static final int UFFD_FEATURE_EXACT_ADDRESS = ON ? UffdNative.UFFD_FEATURE_EXACT_ADDRESS() : 0;
    public static final int UFFD_FEATURE_WP_HUGETLBFS_SHMEM = ON ? UffdNative.UFFD_FEATURE_WP_HUGETLBFS_SHMEM() : 0;
    public static final int UFFD_FEATURE_WP_UNPOPULATED = ON ? UffdNative.UFFD_FEATURE_WP_UNPOPULATED() : 0;
    public static final int UFFD_FEATURE_POISON = ON ? UffdNative.UFFD_FEATURE_POISON() : 0;
    public static final int UFFD_FEATURE_WP_ASYNC = ON ? UffdNative.UFFD_FEATURE_WP_ASYNC() : 0;
    public static final int UFFD_FEATURE_MOVE = ON ? UffdNative.UFFD_FEATURE_MOVE() : 0;
    public static final long UFFDIO_REGISTER_MODE_MISSING = ON ? UffdNative.UFFDIO_REGISTER_MODE_MISSING() : 0;
    public static final long UFFDIO_REGISTER_MODE_WP = ON ? UffdNative.UFFDIO_REGISTER_MODE_WP() : 0;
    public static final long UFFDIO_REGISTER_MODE_MINOR = ON ? UffdNative.UFFDIO_REGISTER_MODE_MINOR() : 0;
    public static final long UFFDIO_COPY_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_COPY_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_COPY_MODE_WP = ON ? UffdNative.UFFDIO_COPY_MODE_WP() : 0;
    public static final long UFFDIO_ZEROPAGE_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_ZEROPAGE_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_WRITEPROTECT_MODE_WP = ON ? UffdNative.UFFDIO_WRITEPROTECT_MODE_WP() : 0;
    public static final long UFFDIO_WRITEPROTECT_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_WRITEPROTECT_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_CONTINUE_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_CONTINUE_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_CONTINUE_MODE_WP = ON ? UffdNative.UFFDIO_CONTINUE_MODE_WP() : 0;
    public static final long UFFDIO_POISON_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_POISON_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_MOVE_MODE_DONTWAKE = ON ? UffdNative.UFFDIO_MOVE_MODE_DONTWAKE() : 0;
    public static final long UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES = ON ? UffdNative.UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES() : 0;
    public static final int PM_SCAN_WP_MATCHING = ON ? UffdNative.PM_SCAN_WP_MATCHING() : 0;
    public static final int PM_SCAN_CHECK_WPASYNC = ON ? UffdNative.PM_SCAN_CHECK_WPASYNC() : 0;
    public static final int PAGE_IS_WPALLOWED = ON ? UffdNative.PAGE_IS_WPALLOWED() : 0;
    public static final int PAGE_IS_WRITTEN = ON ? UffdNative.PAGE_IS_WRITTEN() : 0;
    public static final int PAGE_IS_FILE = ON ? UffdNative.PAGE_IS_FILE() : 0;
    public static final int PAGE_IS_PRESENT = ON ? UffdNative.PAGE_IS_PRESENT() : 0;
    public static final int PAGE_IS_SWAPPED = ON ? UffdNative.PAGE_IS_SWAPPED() : 0;
    public static final int PAGE_IS_PFNZERO = ON ? UffdNative.PAGE_IS_PFNZERO() : 0;
    public static final int PAGE_IS_HUGE = ON ? UffdNative.PAGE_IS_HUGE() : 0;
    public static final int PAGE_IS_SOFT_DIRTY = ON ? UffdNative.PAGE_IS_SOFT_DIRTY() : 0;
    public static final long PM_SOFT_DIRTY = ON ? UffdNative.PM_SOFT_DIRTY() : 0;
    public static final long PM_MMAP_EXCLUSIVE = ON ? UffdNative.PM_MMAP_EXCLUSIVE() : 0;
    public static final long PM_UFFD_WP = ON ? UffdNative.PM_UFFD_WP() : 0;
    public static final long PM_FILE = ON ? UffdNative.PM_FILE() : 0;
    public static final long PM_SWAP = ON ? UffdNative.PM_SWAP() : 0;
    public static final long PM_PRESENT = ON ? UffdNative.PM_PRESENT() : 0;
    public static final int AF_UNIX = ON ? UffdNative.AF_UNIX() : 0;
    public static final int SOCK_SEQPACKET = ON ? UffdNative.SOCK_SEQPACKET() : 0;
    public static final int SOCK_CLOEXEC = ON ? UffdNative.SOCK_CLOEXEC() : 0;
    public static final int SOCK_NONBLOCK = ON ? UffdNative.SOCK_NONBLOCK() : 0;
    public static final int SOL_SOCKET = ON ? UffdNative.SOL_SOCKET() : 0;
    public static final int SO_PEERCRED = ON ? UffdNative.SO_PEERCRED() : 0;
    public static final int SO_PEERPIDFD = ON ? UffdNative.SO_PEERPIDFD() : 0;
    public static final int SOMAXCONN = ON ? UffdNative.SOMAXCONN() : 0;
    public static final int SCM_RIGHTS = ON ? UffdNative.SCM_RIGHTS() : 0;
    public static final int MSG_CMSG_CLOEXEC = ON ? UffdNative.MSG_CMSG_CLOEXEC() : 0;
    public static final int MSG_NOSIGNAL = ON ? UffdNative.MSG_NOSIGNAL() : 0;
    public static final int MSG_DONTWAIT = ON ? UffdNative.MSG_DONTWAIT() : 0;
    public static final int MSG_TRUNC = ON ? UffdNative.MSG_TRUNC() : 0;
    public static final int MSG_CTRUNC = ON ? UffdNative.MSG_CTRUNC() : 0;

    // ---- struct layouts: offsets and sizes (bytes) ---------------------------------------------

    public static final long UFFDIO_API_SIZE = ON ? uffdio_api.sizeof() : 0;
    public static final long UFFDIO_API_API = ON ? uffdio_api.api$offset() : 0;
    public static final long UFFDIO_API_FEATURES = ON ? uffdio_api.features$offset() : 0;
    public static final long UFFDIO_API_IOCTLS = ON ? uffdio_api.ioctls$offset() : 0;

    public static final long UFFDIO_RANGE_SIZE = ON ? uffdio_range.sizeof() : 0;
    public static final long UFFDIO_RANGE_START = ON ? uffdio_range.start$offset() : 0;
    public static final long UFFDIO_RANGE_LEN = ON ? uffdio_range.len$offset() : 0;

    public static final long UFFDIO_REGISTER_SIZE = ON ? uffdio_register.sizeof() : 0;
    public static final long UFFDIO_REGISTER_RANGE = ON ? uffdio_register.range$offset() : 0;
    public static final long UFFDIO_REGISTER_MODE = ON ? uffdio_register.mode$offset() : 0;
    public static final long UFFDIO_REGISTER_IOCTLS = ON ? uffdio_register.ioctls$offset() : 0;

    public static final long UFFDIO_ZEROPAGE_SIZE = ON ? uffdio_zeropage.sizeof() : 0;
    public static final long UFFDIO_ZEROPAGE_RANGE = ON ? uffdio_zeropage.range$offset() : 0;
    public static final long UFFDIO_ZEROPAGE_MODE = ON ? uffdio_zeropage.mode$offset() : 0;
    public static final long UFFDIO_ZEROPAGE_RESULT = ON ? uffdio_zeropage.zeropage$offset() : 0;

    public static final long UFFDIO_WRITEPROTECT_SIZE = ON ? uffdio_writeprotect.sizeof() : 0;
    public static final long UFFDIO_WRITEPROTECT_RANGE = ON ? uffdio_writeprotect.range$offset() : 0;
    public static final long UFFDIO_WRITEPROTECT_MODE = ON ? uffdio_writeprotect.mode$offset() : 0;

    public static final long UFFDIO_CONTINUE_SIZE = ON ? uffdio_continue.sizeof() : 0;
    public static final long UFFDIO_CONTINUE_RANGE = ON ? uffdio_continue.range$offset() : 0;
    public static final long UFFDIO_CONTINUE_MODE = ON ? uffdio_continue.mode$offset() : 0;
    public static final long UFFDIO_CONTINUE_RESULT = ON ? uffdio_continue.mapped$offset() : 0;

    public static final long UFFDIO_POISON_SIZE = ON ? uffdio_poison.sizeof() : 0;
    public static final long UFFDIO_POISON_RANGE = ON ? uffdio_poison.range$offset() : 0;
    public static final long UFFDIO_POISON_MODE = ON ? uffdio_poison.mode$offset() : 0;
    public static final long UFFDIO_POISON_RESULT = ON ? uffdio_poison.updated$offset() : 0;

    public static final long UFFDIO_COPY_SIZE = ON ? uffdio_copy.sizeof() : 0;
    public static final long UFFDIO_COPY_DST = ON ? uffdio_copy.dst$offset() : 0;
    public static final long UFFDIO_COPY_SRC = ON ? uffdio_copy.src$offset() : 0;
    public static final long UFFDIO_COPY_LEN = ON ? uffdio_copy.len$offset() : 0;
    public static final long UFFDIO_COPY_MODE = ON ? uffdio_copy.mode$offset() : 0;
    public static final long UFFDIO_COPY_RESULT = ON ? uffdio_copy.copy$offset() : 0;

    public static final long UFFDIO_MOVE_SIZE = ON ? uffdio_move.sizeof() : 0;
    public static final long UFFDIO_MOVE_DST = ON ? uffdio_move.dst$offset() : 0;
    public static final long UFFDIO_MOVE_SRC = ON ? uffdio_move.src$offset() : 0;
    public static final long UFFDIO_MOVE_LEN = ON ? uffdio_move.len$offset() : 0;
    public static final long UFFDIO_MOVE_MODE = ON ? uffdio_move.mode$offset() : 0;
    public static final long UFFDIO_MOVE_RESULT = ON ? uffdio_move.move$offset() : 0;

    /** sizeof(struct uffd_msg). */
    public static final long UFFD_MSG_SIZE = ON ? uffd_msg.sizeof() : 0;
    public static final long UFFD_MSG_EVENT = ON ? uffd_msg.event$offset() : 0;
    // uffd_msg.arg's members are anonymous structs: offsets add up through jextract's nested classes
    private static final long MSG_ARG = ON ? uffd_msg.arg$offset() : 0;
    private static final long MSG_PAGEFAULT = ON ? MSG_ARG + uffd_msg.arg.pagefault$offset() : 0;
    public static final long UFFD_MSG_PF_FLAGS = ON ? MSG_PAGEFAULT + uffd_msg.arg.pagefault.flags$offset() : 0;
    public static final long UFFD_MSG_PF_ADDRESS = ON ? MSG_PAGEFAULT + uffd_msg.arg.pagefault.address$offset() : 0;
    public static final long UFFD_MSG_PF_PTID = ON ? MSG_PAGEFAULT + uffd_msg.arg.pagefault.feat$offset()
            + uffd_msg.arg.pagefault.feat.ptid$offset() : 0;
    public static final long UFFD_MSG_FORK_UFD = ON ? MSG_ARG + uffd_msg.arg.fork$offset() + uffd_msg.arg.fork.ufd$offset() : 0;
    private static final long MSG_REMAP = ON ? MSG_ARG + uffd_msg.arg.remap$offset() : 0;
    public static final long UFFD_MSG_REMAP_FROM = ON ? MSG_REMAP + uffd_msg.arg.remap.from$offset() : 0;
    public static final long UFFD_MSG_REMAP_TO = ON ? MSG_REMAP + uffd_msg.arg.remap.to$offset() : 0;
    public static final long UFFD_MSG_REMAP_LEN = ON ? MSG_REMAP + uffd_msg.arg.remap.len$offset() : 0;
    private static final long MSG_REMOVE = ON ? MSG_ARG + uffd_msg.arg.remove$offset() : 0;
    public static final long UFFD_MSG_REMOVE_START = ON ? MSG_REMOVE + uffd_msg.arg.remove.start$offset() : 0;
    public static final long UFFD_MSG_REMOVE_END = ON ? MSG_REMOVE + uffd_msg.arg.remove.end$offset() : 0;

    public static final long POLLFD_SIZE = ON ? pollfd.sizeof() : 0;
    public static final long POLLFD_FD = ON ? pollfd.fd$offset() : 0;
    public static final long POLLFD_EVENTS = ON ? pollfd.events$offset() : 0;
    public static final long POLLFD_REVENTS = ON ? pollfd.revents$offset() : 0;

    public static final long PM_SCAN_ARG_SIZE = ON ? pm_scan_arg.sizeof() : 0;
    public static final long PM_SCAN_ARG_SIZE_FIELD = ON ? pm_scan_arg.size$offset() : 0;
    public static final long PM_SCAN_ARG_FLAGS = ON ? pm_scan_arg.flags$offset() : 0;
    public static final long PM_SCAN_ARG_START = ON ? pm_scan_arg.start$offset() : 0;
    public static final long PM_SCAN_ARG_END = ON ? pm_scan_arg.end$offset() : 0;
    public static final long PM_SCAN_ARG_WALK_END = ON ? pm_scan_arg.walk_end$offset() : 0;
    public static final long PM_SCAN_ARG_VEC = ON ? pm_scan_arg.vec$offset() : 0;
    public static final long PM_SCAN_ARG_VEC_LEN = ON ? pm_scan_arg.vec_len$offset() : 0;
    public static final long PM_SCAN_ARG_CATEGORY_MASK = ON ? pm_scan_arg.category_mask$offset() : 0;
    public static final long PM_SCAN_ARG_RETURN_MASK = ON ? pm_scan_arg.return_mask$offset() : 0;

    public static final long IOVEC_SIZE = ON ? iovec.sizeof() : 0;
    public static final long IOVEC_BASE = ON ? iovec.iov_base$offset() : 0;
    public static final long IOVEC_LEN = ON ? iovec.iov_len$offset() : 0;

    public static final long PAGE_REGION_SIZE = ON ? page_region.sizeof() : 0;
    public static final long PAGE_REGION_START = ON ? page_region.start$offset() : 0;
    public static final long PAGE_REGION_END = ON ? page_region.end$offset() : 0;
    public static final long PAGE_REGION_CATEGORIES = ON ? page_region.categories$offset() : 0;

    public static final long MSGHDR_SIZE = ON ? msghdr.sizeof() : 0;
    public static final long MSGHDR_IOV = ON ? msghdr.msg_iov$offset() : 0;
    public static final long MSGHDR_IOVLEN = ON ? msghdr.msg_iovlen$offset() : 0;
    public static final long MSGHDR_CONTROL = ON ? msghdr.msg_control$offset() : 0;
    public static final long MSGHDR_CONTROLLEN = ON ? msghdr.msg_controllen$offset() : 0;
    public static final long MSGHDR_FLAGS = ON ? msghdr.msg_flags$offset() : 0;

    // CMSG_* are function-like macros jextract cannot see: computed from struct cmsghdr as
    // <bits/socket.h> does, aligning to sizeof(size_t), the type of cmsg_len
    private static final long CMSG_ALIGNMENT = ON ? cmsghdr.cmsg_len$layout().byteSize() : 8;
    public static final long CMSGHDR_LEN = ON ? cmsghdr.cmsg_len$offset() : 0;
    public static final long CMSGHDR_LEVEL = ON ? cmsghdr.cmsg_level$offset() : 0;
    public static final long CMSGHDR_TYPE = ON ? cmsghdr.cmsg_type$offset() : 0;
    /** CMSG_DATA's offset in a control message: CMSG_ALIGN(sizeof(struct cmsghdr)). */
    public static final long CMSG_DATA = ON ? cmsgAlign(cmsghdr.sizeof()) : 0;

    /** CMSG_ALIGN(n): n rounded up to the alignment of control messages. */
    public static long cmsgAlign(long n) {
        return (n + CMSG_ALIGNMENT - 1) & -CMSG_ALIGNMENT;
    }

    /** CMSG_SPACE(n): the bytes a control message with n data bytes takes, padding included. */
    public static long cmsgSpace(long n) {
        return CMSG_DATA + cmsgAlign(n);
    }

    /** CMSG_LEN(n): the cmsg_len of a control message with n data bytes. */
    public static long cmsgLen(long n) {
        return CMSG_DATA + n;
    }

    public static final long SOCKADDR_UN_SIZE = ON ? sockaddr_un.sizeof() : 0;
    public static final long SOCKADDR_UN_FAMILY = ON ? sockaddr_un.sun_family$offset() : 0;
    public static final long SOCKADDR_UN_PATH = ON ? sockaddr_un.sun_path$offset() : 0;
    /** The bytes of sun_path, its terminating NUL included (108). */
    public static final long SOCKADDR_UN_PATH_BYTES = ON ? sockaddr_un.sun_path$layout().byteSize() : 0;

    public static final long UCRED_SIZE = ON ? ucred.sizeof() : 0;
    public static final long UCRED_PID = ON ? ucred.pid$offset() : 0;
    public static final long UCRED_UID = ON ? ucred.uid$offset() : 0;
    public static final long UCRED_GID = ON ? ucred.gid$offset() : 0;
}
