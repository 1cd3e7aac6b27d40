package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Abi;
import io.github.uffd4j.internal.linux.Native;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Whether this JVM can use userfaultfd, asked once: the answers behind
 * {@link Userfaultfd#isAvailable()}, {@link Userfaultfd#unavailabilityCause()},
 * {@link Userfaultfd#isSupported(Feature)} and {@link Userfaultfd#kernelFeatures()}.
 *
 * <p>The first question opens a throwaway descriptor the way {@link Userfaultfd#open()} does
 * ({@link CreationPath#AUTO}, no flag beyond close-on-exec) and sends a handshake asking for no
 * feature, which reports every feature the kernel has. When that descriptor is refused, the
 * refusal is the cause, and a user-mode-only descriptor is tried to learn the kernel's features
 * anyway. Each creation path asked about on its own is probed once too. Answers are kept for the
 * life of the JVM (a later sysctl or permission change is not seen). Questions never throw.
 * Thread safe.
 */
final class Availability {

    private Availability() {
    }

    /**
     * The probe's answer: why {@code Userfaultfd.open()} cannot work here (null when it can),
     * and the kernel's features (null when no descriptor at all could be created).
     */
    private record Probe(Throwable cause, Set<Feature> features) {
    }

    /** Made on first use: a JVM that never asks opens no descriptor for it. */
    private static final class Default {
        static final Probe PROBE = probe();
    }

    /** Per creation path (DEVICE, SYSCALL asked on their own): empty when it works, else why not. */
    private static final Map<CreationPath, Optional<Throwable>> BY_PATH = new EnumMap<>(CreationPath.class);

    /** Why {@code Userfaultfd.open()} would fail in this JVM, or null when it works. */
    static Throwable cause() {
        return Default.PROBE.cause();
    }

    /** Why creating a descriptor by {@code path} (no optional flags) fails here, or null when it works. */
    static Throwable cause(CreationPath path) {
        if (path == CreationPath.AUTO) {
            return cause();
        }
        synchronized (BY_PATH) {
            return BY_PATH.computeIfAbsent(path, p -> Optional.ofNullable(tryCreate(p))).orElse(null);
        }
    }

    /** Whether {@code Userfaultfd.open()} works here and the kernel has {@code feature}. */
    static boolean isSupported(Feature feature) {
        Probe p = Default.PROBE;
        return p.cause() == null && p.features().contains(feature);
    }

    /**
     * Every feature the kernel reports, also when only a user-mode-only descriptor may be created.
     *
     * @throws UnsupportedOperationException when no descriptor at all can be created, with the reason as its cause
     */
    static Set<Feature> kernelFeatures() {
        Probe p = Default.PROBE;
        if (p.features() == null) {
            throw unavailable(p.cause());
        }
        return p.features();
    }

    /** Whether the kernel reports {@code feature}; for checks made once a descriptor exists. */
    static boolean kernelHas(Feature feature) {
        return kernelFeatures().contains(feature);
    }

    /** The exception {@link Userfaultfd#ensureAvailability()} throws: says why, with the cause attached. */
    static UnsupportedOperationException unavailable(Throwable cause) {
        return new UnsupportedOperationException("userfaultfd is not available in this JVM: " + cause.getMessage(), cause);
    }

    // ---- probing ------------------------------------------------------------------------------

    private static Probe probe() {
        try {
            return probeOnce();
        } catch (RuntimeException | LinkageError unexpected) {
            return new Probe(unexpected, null);
        }
    }

    private static Probe probeOnce() {
        Throwable cause = tryNative();
        if (cause != null) {
            return new Probe(cause, null);
        }
        int flags = Abi.O_NONBLOCK | Abi.O_CLOEXEC;
        UffdOpener.Created created;
        try {
            created = UffdOpener.create(CreationPath.AUTO, flags);
        } catch (RuntimeException | LinkageError refused) {
            cause = refused;
            try {
                // unprivileged without the sysctl: user-mode-only still reports the kernel's features
                created = UffdOpener.create(CreationPath.AUTO, flags | Abi.UFFD_USER_MODE_ONLY);
            } catch (RuntimeException | LinkageError alsoRefused) {
                return new Probe(cause, null);
            }
        }
        try {
            Set<Feature> features = Collections.unmodifiableSet(Feature.fromMask(IoctlCalls.api(created.fd(), 0).features()));
            return new Probe(cause, features);
        } catch (RuntimeException | LinkageError handshake) {
            return new Probe(cause != null ? cause : handshake, null);
        } finally {
            Native.close(created.fd());
        }
    }

    private static Throwable tryCreate(CreationPath path) {
        Throwable cause = tryNative();
        if (cause != null) {
            return cause;
        }
        try {
            Native.close(UffdOpener.create(path, Abi.O_NONBLOCK | Abi.O_CLOEXEC).fd());
            return null;
        } catch (RuntimeException | LinkageError refused) {
            return refused;
        }
    }

    /** Why native calls cannot be made (not Linux, no native access for this module), or null. */
    private static Throwable tryNative() {
        try {
            String reason = Native.unavailableReason();
            return reason == null ? null : new UnsupportedOperationException(reason);
        } catch (RuntimeException | LinkageError e) {
            return e;
        }
    }
}
