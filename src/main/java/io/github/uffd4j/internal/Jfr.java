package io.github.uffd4j.internal;

import java.util.Optional;

/**
 * Whether uffd4j's JFR events can be recorded. The module needs {@code jdk.jfr} only if it is
 * there ({@code requires static}): a runtime image of {@code java.base} alone runs uffd4j, and its
 * events are then nothing. Every event is made behind {@link #started()}: an event class is not
 * even loaded (about a tenth of a second the first time) until a recorder runs. Thread safe.
 */
public final class Jfr {

    private static final boolean PRESENT = present();

    private Jfr() {
    }

    private static boolean present() {
        Optional<Module> jfr = ModuleLayer.boot().findModule("jdk.jfr");
        return jfr.isPresent() && Jfr.class.getModule().canRead(jfr.get());
    }

    /**
     * Whether the {@code jdk.jfr} module is in this runtime and readable by uffd4j (on the module
     * path it is resolved when the application requires it, with {@code --add-modules jdk.jfr}, or
     * when the JVM starts with {@code -XX:StartFlightRecording}).
     *
     * @return true if JFR events can exist in this JVM
     */
    public static boolean isPresent() {
        return PRESENT;
    }

    /**
     * Whether a flight recorder has started in this JVM: events are worth making only then.
     *
     * @return true if JFR is present and initialized
     */
    public static boolean started() {
        return PRESENT && jdk.jfr.FlightRecorder.isInitialized();
    }
}
