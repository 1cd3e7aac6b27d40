package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Errno;
import io.github.uffd4j.internal.linux.Native;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * How {@link Memory#readThroughKernel} and {@link Memory#writeThroughKernel} copy: process_vm_readv
 * and process_vm_writev on this process, and where a seccomp filter forbids them, the pages
 * faulted in with madvise and copied with pread/pwrite on /proc/self/mem. Either way a missing or
 * write-protected page is served while the thread waits in the kernel. Stateless but for which
 * path works here: thread safe.
 */
final class KernelCopy {

    private static final int PID = (int) ProcessHandle.current().pid();

    private KernelCopy() {
    }

    static void read(long address, MemorySegment dst) {
        long done = throughKernel(PID, false, address, dst);
        if (done < dst.byteSize()) {
            SelfMemory.read(address, dst, done);
        }
    }

    static void write(long address, MemorySegment src) {
        long done = throughKernel(PID, true, address, src);
        if (done < src.byteSize()) {
            SelfMemory.write(address, src, done);
        }
    }

    /**
     * process_vm_readv from another process ({@code pid}): every byte of {@code dst}, or an
     * exception saying why not (EPERM and ESRCH included: there is no fallback for another process).
     */
    static void readProcess(int pid, long address, MemorySegment dst) {
        if (pid == PID) {
            read(address, dst);
            return;
        }
        throughKernel(pid, false, address, dst); // another process: all of it, or an exception
    }

    /**
     * process_vm_writev ({@code write}) or process_vm_readv between {@code local} and
     * {@code [address, address + local.byteSize())} of process {@code pid}, after the checks both
     * make; retried on EINTR. Returns the bytes copied: all of them, or, for this process, fewer
     * when the call is forbidden or missing here (EPERM, ENOSYS: the /proc/self/mem fallback is then
     * preferred and does the rest). Any other error, and any error for another process, throws.
     */
    private static long throughKernel(int pid, boolean write, long address, MemorySegment local) {
        String call = write ? "process_vm_writev" : "process_vm_readv";
        Native.ensureAvailable();
        Objects.requireNonNull(local, write ? "src" : "dst");
        if (!local.isNative() || !local.scope().isAlive()) {
            throw new IllegalArgumentException(call + ": the " + (write ? "source" : "destination")
                    + " must be live off-heap memory, not " + local);
        }
        long length = local.byteSize();
        if (address < 0 || address > Long.MAX_VALUE - length) {
            throw new IllegalArgumentException(call + ": [0x" + Long.toHexString(address) + " + " + length
                    + ") is outside the user address space");
        }
        long done = 0;
        while (done < length && (pid != PID || !SelfMemory.preferred(write))) {
            MemorySegment iovecs = Native.thread().scratch();
            Native.iovec(iovecs, 0, local.address() + done, length - done);
            Native.iovec(iovecs, Abi.IOVEC_SIZE, address + done, length - done);
            long n = write ? Native.processVmWritev(pid, iovecs.address(), iovecs.address() + Abi.IOVEC_SIZE)
                    : Native.processVmReadv(pid, iovecs.address(), iovecs.address() + Abi.IOVEC_SIZE);
            if (n > 0) {
                done += n;
                continue;
            }
            int e = n < 0 ? Native.errno() : Errno.EFAULT;
            if (e == Errno.EINTR) {
                continue;
            }
            if ((e == Errno.EPERM || e == Errno.ENOSYS) && pid == PID) {
                SelfMemory.prefer(write);
                break;
            }
            if (e == Errno.EPERM || e == Errno.ENOSYS) {
                throw Failures.withHint(call, e, address, length, done, (e == Errno.EPERM
                        ? "this process may not " + (write ? "write" : "read") + " the memory of pid " + pid + " (it needs the"
                        + " right to ptrace it: the same uid and no Yama ptrace_scope restriction, or CAP_SYS_PTRACE), or a"
                        + " seccomp filter forbids " + call
                        : call + " is missing from this kernel (CONFIG_CROSS_MEMORY_ATTACH) or a seccomp filter refuses it")
                        + "; shared memory needs no such call");
            }
            String page = "the page at 0x" + Long.toHexString(address + done);
            String hint = e == Errno.EFAULT ? page + (write ? " is poisoned, read-only or not mapped" : " is poisoned (a load that failed) or not mapped")
                    : "";
            throw Failures.withHint(call, e, address, length, done, hint);
        }
        return done;
    }

    /**
     * The fallback of {@link #readThroughKernel} and {@link #writeThroughKernel}:
     * madvise(MADV_POPULATE_READ / _WRITE), then pread(2) / pwrite(2) on /proc/self/mem.
     */
    private static final class SelfMemory {
        /** A page zapped between the populate and the pread this many times in a row is an error. */
        private static final int RACES = 1000;
        /** {@code -Duffd4j.readThroughKernel=proc-mem} chooses the fallback from the start (diagnostics, tests). */
        private static volatile boolean preferredForReads = "proc-mem".equals(System.getProperty("uffd4j.readThroughKernel"));
        /** {@code -Duffd4j.writeThroughKernel=proc-mem}: the same for writes. */
        private static volatile boolean preferredForWrites = "proc-mem".equals(System.getProperty("uffd4j.writeThroughKernel"));
        private static volatile int fd = -1;

        static boolean preferred(boolean write) {
            return write ? preferredForWrites : preferredForReads;
        }

        static void prefer(boolean write) {
            if (write) {
                preferredForWrites = true;
            } else {
                preferredForReads = true;
            }
        }

        private static int fd() {
            int f = fd;
            return f >= 0 ? f : openFd(); // the lock only for the first open: every fallback call asks
        }

        private static synchronized int openFd() {
            if (fd < 0) {
                int f = Native.open("/proc/self/mem", Abi.O_RDWR | Abi.O_CLOEXEC);
                if (f < 0) {
                    throw Failures.withHint("open(/proc/self/mem)", Native.errno(), "process_vm_readv/writev are forbidden "
                            + "here (seccomp) and /proc/self/mem cannot be opened either: allow them (in a container: "
                            + "--cap-add SYS_PTRACE or a seccomp profile allowing them) or mount /proc");
                }
                fd = f;
            }
            return fd;
        }

        static void read(long address, MemorySegment dst, long done) {
            copy(false, address, dst, done);
        }

        static void write(long address, MemorySegment src, long done) {
            copy(true, address, src, done);
        }

        private static void copy(boolean write, long address, MemorySegment local, long done) {
            String call = write ? "pwrite(/proc/self/mem)" : "pread(/proc/self/mem)";
            long length = local.byteSize();
            int f = fd();
            int races = 0;
            while (done < length) {
                long n = write ? Native.pwrite(f, local.address() + done, length - done, address + done)
                        : Native.pread(f, local.address() + done, length - done, address + done);
                if (n > 0) {
                    done += n;
                    races = 0;
                    continue;
                }
                int e = n < 0 ? Native.errno() : Errno.EIO;
                if (e == Errno.EINTR) {
                    continue;
                }
                if ((e != Errno.EIO && e != Errno.EFAULT) || ++races > RACES) {
                    throw Failures.withHint(call, e, address, length, done,
                            "the page at 0x" + Long.toHexString(address + done) + " could not be " + (write ? "written" : "read"));
                }
                // missing or write-protected (never loaded, or zapped since): fault it in from native code, then again
                try {
                    populatePageAt(address + done, write);
                } catch (UffdException x) {
                    throw Failures.withHint(call, x.errno(), address, length, done,
                            "the page at 0x" + Long.toHexString(address + done) + " could not be faulted in: " + x.getMessage());
                }
            }
        }

        /** Faults in the page holding {@code address}, whatever the page size of its mapping. */
        private static void populatePageAt(long address, boolean write) {
            for (long page = Memory.pageSize(); ; page <<= 9) {
                try {
                    Memory.populate(address & -page, page, write);
                    return;
                } catch (UffdException x) {
                    if (x.errno() != Errno.EINVAL || page >= 1L << 30) {
                        throw x;
                    }
                    // a huge page mapping: madvise wants the range aligned to its page size
                }
            }
        }
    }
}
