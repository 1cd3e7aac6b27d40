/**
 * uffd4j: Linux userfaultfd through the Foreign Function and Memory API. Run with
 * {@code --enable-native-access=io.github.uffd4j}.
 */
module io.github.uffd4j {
    requires jdk.jfr;
    requires static info.picocli;

    exports io.github.uffd4j;
    exports io.github.uffd4j.handler;
    exports io.github.uffd4j.pager;
    opens io.github.uffd4j.pager to info.picocli;

    uses io.github.uffd4j.pager.PageSourceProvider;
}
