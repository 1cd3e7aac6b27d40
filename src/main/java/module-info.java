/**
 * uffd4j: Linux userfaultfd through the Foreign Function and Memory API. Run with
 * {@code --enable-native-access=io.github.uffd4j}.
 */
module io.github.uffd4j {
    requires jdk.jfr;

    exports io.github.uffd4j;
    exports io.github.uffd4j.handler;
}
