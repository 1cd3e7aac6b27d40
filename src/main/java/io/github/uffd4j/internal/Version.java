package io.github.uffd4j.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/** uffd4j's version, as the build wrote it into {@code version.properties}; what the tools' {@code --version} prints. */
public final class Version {

    private static final String VERSION = load();

    private Version() {
    }

    private static String load() {
        try (InputStream in = Version.class.getResourceAsStream("version.properties")) {
            if (in == null) {
                return "(development build)";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "");
            return v.isEmpty() || v.startsWith("${") ? "(development build)" : v;
        } catch (IOException e) {
            throw new UncheckedIOException("reading uffd4j's version.properties", e);
        }
    }

    /**
     * The library's version.
     *
     * @return e.g. {@code 0.1.0-SNAPSHOT}, or {@code (development build)} when the build did not say
     */
    public static String get() {
        return VERSION;
    }

    /**
     * The lines a tool prints for {@code --version}: its name and uffd4j's version, then the Java
     * runtime and the kernel it runs on.
     *
     * @param tool the tool's name, e.g. {@code scripts/pager}
     * @return two lines
     */
    public static String[] lines(String tool) {
        return new String[] {tool + " (uffd4j " + VERSION + ")",
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor") + "), " + System.getProperty("os.name")
                    + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch")};
    }
}
