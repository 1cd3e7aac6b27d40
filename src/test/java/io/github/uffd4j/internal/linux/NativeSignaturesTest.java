package io.github.uffd4j.internal.linux;

import io.github.uffd4j.internal.gen.UffdNative;
import org.junit.jupiter.api.Test;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.UnionLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Native links each C function with a signature of its own (so that nothing is linked before it
 * is called); each must match the descriptor jextract generated from the C headers, a pointer
 * passed as a long counting as a pointer, and so does a transparent union of pointers (glibc's
 * {@code __CONST_SOCKADDR_ARG}), which the C ABI passes as its first member.
 */
class NativeSignaturesTest {

    /** A pointer, or a transparent union of pointers in jextract's descriptor. */
    private static boolean isPointer(MemoryLayout layout) {
        return layout instanceof AddressLayout
                || layout instanceof UnionLayout u && u.memberLayouts().stream().allMatch(m -> m instanceof AddressLayout);
    }

    /** One token per layout: "ptr" for a pointer (or a long standing for one where jextract has a pointer), else the carrier. */
    private static List<String> shape(FunctionDescriptor ours, FunctionDescriptor generated) {
        List<String> out = new ArrayList<>();
        List<MemoryLayout> a = new ArrayList<>(ours.argumentLayouts());
        List<MemoryLayout> g = new ArrayList<>(generated.argumentLayouts());
        ours.returnLayout().ifPresent(r -> a.addFirst(r));
        generated.returnLayout().ifPresent(r -> g.addFirst(r));
        assertEquals(g.size(), a.size(), ours + " vs " + generated);
        for (int i = 0; i < a.size(); i++) {
            MemoryLayout x = a.get(i);
            MemoryLayout y = g.get(i);
            boolean bothPointers = isPointer(y) && (x instanceof AddressLayout || x.equals(ValueLayout.JAVA_LONG));
            out.add(bothPointers ? "ptr" : ((ValueLayout) x).carrier() + "/" + x.byteSize());
        }
        return out;
    }

    private static void same(FunctionDescriptor ours, FunctionDescriptor generated) {
        List<String> o = shape(ours, generated);
        List<String> g = new ArrayList<>();
        List<MemoryLayout> gl = new ArrayList<>(generated.argumentLayouts());
        generated.returnLayout().ifPresent(r -> gl.addFirst(r));
        for (int i = 0; i < gl.size(); i++) {
            g.add(isPointer(gl.get(i)) ? "ptr" : ((ValueLayout) gl.get(i)).carrier() + "/" + gl.get(i).byteSize());
        }
        assertEquals(g, o, ours + " vs " + generated);
    }

    @Test
    void everySignatureMatchesTheGeneratedDescriptor() {
        same(Native.Signatures.CLOSE, UffdNative.close$descriptor());
        same(Native.Signatures.READ, UffdNative.read$descriptor());
        same(Native.Signatures.WRITE, UffdNative.write$descriptor());
        same(Native.Signatures.POLL, UffdNative.poll$descriptor());
        same(Native.Signatures.EVENTFD, UffdNative.eventfd$descriptor());
        same(Native.Signatures.MMAP, UffdNative.mmap$descriptor());
        same(Native.Signatures.MUNMAP, UffdNative.munmap$descriptor());
        same(Native.Signatures.MADVISE, UffdNative.madvise$descriptor());
        same(Native.Signatures.MEMFD_CREATE, UffdNative.memfd_create$descriptor());
        same(Native.Signatures.FTRUNCATE, UffdNative.ftruncate$descriptor());
        same(Native.Signatures.SYSCONF, UffdNative.sysconf$descriptor());
        same(Native.Signatures.GETTID, UffdNative.gettid$descriptor());
        same(Native.Signatures.SETPRIORITY, UffdNative.setpriority$descriptor());
        same(Native.Signatures.GETPRIORITY, UffdNative.getpriority$descriptor());
        same(Native.Signatures.STRERROR, UffdNative.strerror$descriptor());
        same(Native.Signatures.IOCTL_PTR, UffdNative.ioctl.makeInvoker(UffdNative.C_POINTER).descriptor());
        same(Native.Signatures.IOCTL_INT, UffdNative.ioctl.makeInvoker(UffdNative.C_INT).descriptor());
        same(Native.Signatures.SYSCALL_INT, UffdNative.syscall.makeInvoker(UffdNative.C_INT).descriptor());
        same(Native.Signatures.OPEN, UffdNative.open.makeInvoker(UffdNative.C_INT).descriptor());
        same(Native.Signatures.PROCESS_VM_READV, UffdNative.process_vm_readv$descriptor());
        same(Native.Signatures.PREAD, UffdNative.pread$descriptor());
        same(Native.Signatures.MREMAP, UffdNative.mremap.makeInvoker(UffdNative.C_POINTER).descriptor());
        same(NativeSockets.Signatures.SOCKET, UffdNative.socket$descriptor());
        same(NativeSockets.Signatures.SOCKETPAIR, UffdNative.socketpair$descriptor());
        same(NativeSockets.Signatures.BIND, UffdNative.bind$descriptor());
        same(NativeSockets.Signatures.LISTEN, UffdNative.listen$descriptor());
        same(NativeSockets.Signatures.ACCEPT4, UffdNative.accept4$descriptor());
        same(NativeSockets.Signatures.CONNECT, UffdNative.connect$descriptor());
        same(NativeSockets.Signatures.GETSOCKOPT, UffdNative.getsockopt$descriptor());
        same(NativeSockets.Signatures.SENDMSG, UffdNative.sendmsg$descriptor());
        same(NativeSockets.Signatures.RECVMSG, UffdNative.recvmsg$descriptor());
        same(NativeSockets.Signatures.GETUID, UffdNative.getuid$descriptor());
        same(NativeSockets.Signatures.GETGID, UffdNative.getgid$descriptor());
        same(TestNatives.Signatures.DUP, UffdNative.dup$descriptor());
        same(TestNatives.Signatures.WAITPID, UffdNative.waitpid$descriptor());
        same(TestNatives.Signatures.KILL, UffdNative.kill$descriptor());
        same(TestNatives.Signatures.CLONE, UffdNative.clone.makeInvoker().descriptor());
    }
}
