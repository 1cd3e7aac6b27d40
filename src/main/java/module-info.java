/**
 * uffd4j: Linux userfaultfd through the Foreign Function and Memory API. Run with
 * {@code --enable-native-access=io.github.uffd4j}.
 */
module io.github.uffd4j {
    requires jdk.jfr;
    requires static info.picocli;
    requires static aircompressor.v3; // zstd and lz4 of chunked datasets; on the module path add --add-modules aircompressor.v3

    exports io.github.uffd4j;
    exports io.github.uffd4j.handler;
    exports io.github.uffd4j.pager;
    exports io.github.uffd4j.source;
    opens io.github.uffd4j.pager to info.picocli;

    uses io.github.uffd4j.pager.PageSourceProvider;
}
