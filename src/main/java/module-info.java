/**
 * uffd4j: Linux userfaultfd through the Foreign Function and Memory API. Run with
 * {@code --enable-native-access=io.github.uffd4j}.
 */
module io.github.uffd4j {
    requires static jdk.jfr; // JFR events when present (internal.Jfr): a java.base-only image runs without it
    requires static info.picocli;
    requires static java.net.http; // datasets on HTTP(S) servers (HttpRangeReader)
    // datasets in S3 (S3RangeReader): the AWS SDK v2 with the JDK's HTTP transport
    requires static software.amazon.awssdk.services.s3;
    requires static software.amazon.awssdk.core;
    requires static software.amazon.awssdk.awscore;
    requires static software.amazon.awssdk.regions;
    requires static software.amazon.awssdk.auth;
    requires static software.amazon.awssdk.http;
    requires static software.amazon.awssdk.http.urlconnection;

    exports io.github.uffd4j;
    exports io.github.uffd4j.handler;
    exports io.github.uffd4j.pager;
    exports io.github.uffd4j.source;
    exports io.github.uffd4j.snapshot;
    exports io.github.uffd4j.migrate;
    opens io.github.uffd4j.pager to info.picocli;

    uses io.github.uffd4j.pager.PageSourceProvider;
}
