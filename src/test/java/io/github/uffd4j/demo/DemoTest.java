package io.github.uffd4j.demo;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** scripts/demo's code, on a small dataset: it must pass its own checks. */
class DemoTest {

    @Test
    void theDemoPagesASmallDatasetAndEveryByteMatches() {
        String text = exitsZero(() -> Demo.run("--size", "48M", "--lookups", "300", "--no-progress"));
        assertTrue(text.contains("every byte read matches the dataset"), text);
        assertTrue(text.contains("Time to first byte"), text);
        assertTrue(text.contains("p99.9"), text);
        assertTrue(text.contains("every word read matches the source, both ways"), "the pager part ran: " + text);
    }

    @Test
    void packWritesAChunkedFileThatVerifies(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        byte[] data = io.github.uffd4j.source.ChunkedSourceTest.mixed((3 << 20) + 5, 3);
        java.nio.file.Path in = java.nio.file.Files.write(dir.resolve("in.bin"), data);
        java.nio.file.Path out = dir.resolve("out.u4c");
        for (String c : new String[] {"zstd", "lz4", "none"}) {
            int code = new picocli.CommandLine(new Pack()).execute(in.toString(), out.toString(), "--compression", c,
                    "--chunk-size", "256K", "--verify", "--no-progress");
            assertEquals(0, code, c);
            try (var src = io.github.uffd4j.source.ChunkedSource.open(out)) {
                assertEquals(data.length, src.size());
                assertEquals(256 << 10, src.chunkSize());
            }
        }
        assertEquals(2, new picocli.CommandLine(new Pack()).execute(in.toString(), out.toString(), "--chunk-size", "1000"),
                "a chunk size that is not a multiple of the page size is refused");
        // scripts/demo --file, on the plain file (checked against it) and on the packed one (checked by its checksums)
        assertEquals(0, Demo.run("--paging-only", "--no-progress", "--lookups", "50", "--file", in.toString()));
        assertEquals(0, Demo.run("--paging-only", "--no-progress", "--lookups", "50", "--file", out.toString()));
    }

    /** scripts/migrate's code, on 64 MiB: the source JVM it starts migrates while writing, every MiB matches. */
    @Test
    void migrateMovesMemoryBetweenTwoJvmsAndEveryMiBMatches() {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.WP_ASYNC);
        String text = exitsZero(() -> new picocli.CommandLine(new MigrateDemo())
                .execute("--size", "64M", "--write-rate", "20", "--touches", "200"));
        assertTrue(text.contains("every MiB equals the source at the switchover"), text);
        assertTrue(text.contains("SWITCHED") && text.contains("downtime"), text);
    }

    /** scripts/migrate --backing shmem: the target receives into a memfd served in MINOR mode, every MiB matches. */
    @Test
    void migrateIntoSharedMemory() {
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.WP_ASYNC);
        io.github.uffd4j.TestSupport.assumeFeature(io.github.uffd4j.Feature.MINOR_SHMEM);
        String text = exitsZero(() -> new picocli.CommandLine(new MigrateDemo())
                .execute("--size", "32M", "--write-rate", "20", "--touches", "200", "--backing", "shmem"));
        assertTrue(text.contains("into SHMEM memory") && text.contains("every MiB equals the source at the switchover"), text);
    }

    /** Runs {@code tool} with System.out captured (and echoed); asserts exit code 0; returns what it printed. */
    private static String exitsZero(java.util.function.IntSupplier tool) {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        int code;
        try {
            code = tool.getAsInt();
        } finally {
            System.setOut(out);
        }
        String text = buf.toString();
        System.out.print(text);
        assertEquals(0, code, text);
        return text;
    }

    @Test
    void badOptionsAreRejectedWithUsage() {
        PrintStream err = System.err;
        System.setErr(new PrintStream(new ByteArrayOutputStream(), true));
        try {
            assertEquals(2, Demo.run("--size", "lots"));
        } finally {
            System.setErr(err);
        }
    }
}
