package io.github.uffd4j.internal.linux;

import io.github.uffd4j.internal.gen.UffdNative;

import java.util.HashMap;
import java.util.Map;

/** Symbolic names of the errno values uffd4j reports (the values come from the C headers). */
public final class Errno {

    public static final int EPERM = UffdNative.EPERM();
    public static final int ENOENT = UffdNative.ENOENT();
    public static final int ESRCH = UffdNative.ESRCH();
    public static final int EINTR = UffdNative.EINTR();
    public static final int EIO = UffdNative.EIO();
    public static final int ENXIO = UffdNative.ENXIO();
    public static final int EBADF = UffdNative.EBADF();
    public static final int ECHILD = UffdNative.ECHILD();
    public static final int EAGAIN = UffdNative.EAGAIN();
    public static final int ENOMEM = UffdNative.ENOMEM();
    public static final int EACCES = UffdNative.EACCES();
    public static final int EFAULT = UffdNative.EFAULT();
    public static final int EBUSY = UffdNative.EBUSY();
    public static final int EEXIST = UffdNative.EEXIST();
    public static final int ENODEV = UffdNative.ENODEV();
    public static final int EINVAL = UffdNative.EINVAL();
    public static final int ENFILE = UffdNative.ENFILE();
    public static final int EMFILE = UffdNative.EMFILE();
    public static final int ENOTTY = UffdNative.ENOTTY();
    public static final int ENOSPC = UffdNative.ENOSPC();
    public static final int ERANGE = UffdNative.ERANGE();
    public static final int ENOSYS = UffdNative.ENOSYS();
    public static final int EOPNOTSUPP = UffdNative.EOPNOTSUPP();
    public static final int EHWPOISON = UffdNative.EHWPOISON();
    public static final int EPIPE = UffdNative.EPIPE();
    public static final int ECONNREFUSED = UffdNative.ECONNREFUSED();
    public static final int ECONNRESET = UffdNative.ECONNRESET();
    public static final int EADDRINUSE = UffdNative.EADDRINUSE();
    public static final int ENOTCONN = UffdNative.ENOTCONN();
    public static final int ENOPROTOOPT = UffdNative.ENOPROTOOPT();
    public static final int ENAMETOOLONG = UffdNative.ENAMETOOLONG();

    private static final Map<Integer, String> NAMES = new HashMap<>();

    static {
        name(EPERM, "EPERM");
        name(ENOENT, "ENOENT");
        name(ESRCH, "ESRCH");
        name(EINTR, "EINTR");
        name(EIO, "EIO");
        name(ENXIO, "ENXIO");
        name(EBADF, "EBADF");
        name(ECHILD, "ECHILD");
        name(EAGAIN, "EAGAIN");
        name(ENOMEM, "ENOMEM");
        name(EACCES, "EACCES");
        name(EFAULT, "EFAULT");
        name(EBUSY, "EBUSY");
        name(EEXIST, "EEXIST");
        name(ENODEV, "ENODEV");
        name(EINVAL, "EINVAL");
        name(ENFILE, "ENFILE");
        name(EMFILE, "EMFILE");
        name(ENOTTY, "ENOTTY");
        name(ENOSPC, "ENOSPC");
        name(ERANGE, "ERANGE");
        name(ENOSYS, "ENOSYS");
        name(EOPNOTSUPP, "EOPNOTSUPP");
        name(EHWPOISON, "EHWPOISON");
        name(EPIPE, "EPIPE");
        name(ECONNREFUSED, "ECONNREFUSED");
        name(ECONNRESET, "ECONNRESET");
        name(EADDRINUSE, "EADDRINUSE");
        name(ENOTCONN, "ENOTCONN");
        name(ENOPROTOOPT, "ENOPROTOOPT");
        name(ENAMETOOLONG, "ENAMETOOLONG");
    }

    private static void name(int value, String name) {
        NAMES.putIfAbsent(value, name);
    }

    private Errno() {
    }

    /** The symbol of {@code errno} ("EEXIST"), or "errno N" for one uffd4j does not name. */
    public static String name(int errno) {
        String n = NAMES.get(errno);
        return n != null ? n : "errno " + errno;
    }

    /** The C library's description of {@code errno} ("File exists"). */
    public static String describe(int errno) {
        return Native.strerror(errno);
    }
}
