/*
 * uffd4j: the one header jextract reads (see jextract.args and scripts/regenerate-bindings).
 *
 * The kernel's userfaultfd ABI, completed by uffd4j-abi-ext.h where the system header is older
 * than the kernel ABI, plus the few libc declarations the binding calls.
 */
#define _GNU_SOURCE 1

#include <linux/userfaultfd.h>
#include <linux/fs.h>
#include <sys/socket.h>
#include "uffd4j-abi-ext.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <linux/mman.h>
#include <linux/memfd.h>
