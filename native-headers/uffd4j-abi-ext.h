/*
 * uffd4j: userfaultfd and pagemap ABI that newer kernels define and older system headers lack.
 *
 * Written for uffd4j from the kernel's userfaultfd and pagemap documentation (Linux 6.7 - 6.18).
 * Every block is guarded by the macro a newer <linux/userfaultfd.h> or <linux/fs.h> defines, so
 * that the system header always wins when it already has the definition.
 *
 * Include this file after <linux/userfaultfd.h>, <linux/fs.h> and <sys/socket.h>.
 */
#ifndef UFFD4J_ABI_EXT_H
#define UFFD4J_ABI_EXT_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* ---- userfaultfd features added after Linux 6.1 (bit numbers are ABI) ---- */

#ifndef UFFD_FEATURE_WP_UNPOPULATED            /* Linux 6.4 */
#define UFFD_FEATURE_WP_UNPOPULATED   (1 << 13)
#endif

#ifndef UFFD_FEATURE_POISON                    /* Linux 6.6 */
#define UFFD_FEATURE_POISON           (1 << 14)
#endif

#ifndef UFFD_FEATURE_WP_ASYNC                  /* Linux 6.7 */
#define UFFD_FEATURE_WP_ASYNC         (1 << 15)
#endif

#ifndef UFFD_FEATURE_MOVE                      /* Linux 6.8 */
#define UFFD_FEATURE_MOVE             (1 << 16)
#endif

/* ---- UFFDIO_CONTINUE may map the page write-protected (Linux 6.1 minor+wp) ---- */

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP       ((__u64)1 << 1)
#endif

/* ---- UFFDIO_POISON (Linux 6.6): mark a range so that touching it raises SIGBUS ---- */

#ifndef UFFDIO_POISON
#define _UFFDIO_POISON                (0x08)

struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE   ((__u64)1 << 0)
	__u64 mode;
	/* written by the kernel: bytes poisoned, or a negated errno */
	__s64 updated;
};

#define UFFDIO_POISON                 _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* ---- UFFDIO_MOVE (Linux 6.8): move pages from another range of the same mm ---- */

#ifndef UFFDIO_MOVE
#define _UFFDIO_MOVE                  (0x05)

struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE        ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	/* written by the kernel: bytes moved, or a negated errno */
	__s64 move;
};

#define UFFDIO_MOVE                   _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/* ---- PAGEMAP_SCAN (Linux 6.7): ioctl on /proc/<pid>/pagemap, used with WP_ASYNC ---- */

#ifndef PAGEMAP_SCAN
/* page categories, in pm_scan_arg masks and page_region.categories */
#define PAGE_IS_WPALLOWED   (1 << 0)
#define PAGE_IS_WRITTEN     (1 << 1)
#define PAGE_IS_FILE        (1 << 2)
#define PAGE_IS_PRESENT     (1 << 3)
#define PAGE_IS_SWAPPED     (1 << 4)
#define PAGE_IS_PFNZERO     (1 << 5)
#define PAGE_IS_HUGE        (1 << 6)
#define PAGE_IS_SOFT_DIRTY  (1 << 7)

/* one run of pages sharing the same categories */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

/* flags */
#define PM_SCAN_WP_MATCHING    (1 << 0)   /* write-protect the pages that matched */
#define PM_SCAN_CHECK_WPASYNC  (1 << 1)   /* fail when a page lacks async write-protect */

struct pm_scan_arg {
	__u64 size;                 /* sizeof(struct pm_scan_arg) */
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;             /* written by the kernel: where the walk stopped */
	__u64 vec;                  /* struct page_region[vec_len] */
	__u64 vec_len;
	__u64 max_pages;            /* 0: no limit */
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN  _IOWR('f', 16, struct pm_scan_arg)
#endif

#ifndef PAGE_IS_GUARD                          /* Linux 6.14 */
#define PAGE_IS_GUARD       (1 << 8)
#endif

/* ---- /proc/<pid>/pagemap: one 64-bit entry per page (Documentation/admin-guide/mm/pagemap.rst) ----
 * No uapi header defines these bits (the kernel's fs/proc/task_mmu.c keeps them private), but the
 * file's format is ABI. Bits 0-54 are the page frame number (zero without CAP_SYS_ADMIN) or, for a
 * swapped page, its swap type and offset. */

#ifndef PM_SOFT_DIRTY
#define PM_SOFT_DIRTY       ((__u64)1 << 55)   /* pte is soft-dirty (Linux 3.11) */
#endif
#ifndef PM_MMAP_EXCLUSIVE
#define PM_MMAP_EXCLUSIVE   ((__u64)1 << 56)   /* page exclusively mapped (Linux 4.2) */
#endif
#ifndef PM_UFFD_WP
#define PM_UFFD_WP          ((__u64)1 << 57)   /* pte is userfaultfd write-protected (Linux 5.19) */
#endif
#ifndef PM_FILE
#define PM_FILE             ((__u64)1 << 61)   /* page is file-page or shared-anon */
#endif
#ifndef PM_SWAP
#define PM_SWAP             ((__u64)1 << 62)   /* page swapped */
#endif
#ifndef PM_PRESENT
#define PM_PRESENT          ((__u64)1 << 63)   /* page present */
#endif

/* ---- sockets: SO_PEERPIDFD (Linux 6.5) gives a pidfd of a unix socket's peer ----
 * 77 in asm-generic/socket.h, which x86_64 and aarch64 use (alpha, mips, parisc and sparc differ,
 * and uffd4j does not run there). */

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD        77
#endif

#endif /* UFFD4J_ABI_EXT_H */
