package io.github.uffd4j.pager;

/** Runs {@link PagerMain} in a child JVM for {@link PagerTest} (the test's class path has picocli). */
public final class PagerChild {
    public static void main(String[] args) {
        PagerMain.main(args);
    }
}
