package io.github.uffd4j.demo;

import io.github.uffd4j.Feature;
import io.github.uffd4j.Mapping;
import io.github.uffd4j.Memory;
import io.github.uffd4j.TestSupport;
import io.github.uffd4j.snapshot.Quiesce;
import io.github.uffd4j.snapshot.SnapshotChain;
import io.github.uffd4j.snapshot.SnapshotFile;
import io.github.uffd4j.snapshot.TrackedSnapshots;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** scripts/snapshot's code on a real chain: a base and two increments written by TrackedSnapshots. */
class SnapshotToolTest {

    private static final long PS = Memory.pageSize();
    private static final int PAGES = 64;

    @TempDir
    Path dir;
    private final List<Path> chain = new ArrayList<>();
    private byte[] last;

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = SnapshotTool.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    private static String[] args(String command, List<Path> files, String... more) {
        List<String> a = new ArrayList<>(List.of(command));
        a.addAll(List.of(more));
        files.forEach(f -> a.add(f.toString()));
        return a.toArray(String[]::new);
    }

    @BeforeEach
    void chainOfThree() throws Exception {
        TestSupport.assumeFeature(Feature.WP_ASYNC);
        TestSupport.assumeFeature(Feature.WP_UNPOPULATED);
        try (Mapping m = Memory.anonymous(PAGES * PS); TrackedSnapshots t = TrackedSnapshots.of(m.segment())) {
            for (int k = 0; k < 3; k++) {
                for (int p = k; p < PAGES; p += 3 + k) {
                    m.segment().set(ValueLayout.JAVA_LONG, p * PS + 8 * k, 1000L * k + p);
                }
                Path f = dir.resolve("snap-" + k + ".u4s");
                t.snapshot(f, Quiesce.NONE);
                chain.add(f);
            }
            last = m.segment().toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Test
    void inspectTellsKindsAndTheChainOrderFromFilesInAnyOrder() {
        Run r = run(args("inspect", List.of(chain.get(2), chain.get(0), chain.get(1))));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("full snapshot") && r.out().contains("increment"), r.out());
        assertTrue(r.out().contains("chain: " + chain.get(0) + " -> " + chain.get(1) + " -> " + chain.get(2)), r.out());
    }

    @Test
    void verifyChecksEveryPageAndNamesADamagedOne() throws Exception {
        Run ok = run(args("verify", List.of(chain.get(1), chain.get(2), chain.get(0))));
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().startsWith("ok: 3 files"), ok.out());
        try (FileChannel ch = FileChannel.open(chain.get(1), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0x55}), 64 + 100); // inside the first stored page
        }
        Run bad = run(args("verify", chain));
        assertEquals(1, bad.code(), bad.out());
        assertTrue(bad.err().contains(chain.get(1).toString()) && bad.err().contains("checksum mismatch"), bad.err());
    }

    @Test
    void aMissingLinkOrTwoBasesAreRefusedNamingTheFile() {
        Run missing = run(args("verify", List.of(chain.get(0), chain.get(2))));
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains(chain.get(2).toString()) && missing.err().contains("a link is missing"), missing.err());
        Run noBase = run(args("inspect", List.of(chain.get(1), chain.get(2))));
        assertEquals(1, noBase.code());
        assertTrue(noBase.err().contains("no full snapshot"), noBase.err());
        Run notOne = run(args("verify", List.of(dir.resolve("absent.u4s"))));
        assertEquals(1, notOne.code());
    }

    @Test
    void compactWritesOneFullSnapshotEqualToTheChain() throws Exception {
        Path out = dir.resolve("compact.u4s");
        Run r = run(args("compact", List.of(chain.get(2), chain.get(1), chain.get(0)), "-o", out.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("full snapshot of 3 files"), r.out());
        assertTrue(Files.exists(out));
        try (SnapshotFile f = SnapshotFile.open(out); Mapping m = Memory.anonymous(PAGES * PS)) {
            f.restore(m.segment());
            assertEquals(-1, m.segment().mismatch(MemorySegment.ofArray(last)));
        }
        try (SnapshotChain c = SnapshotChain.open(chain); Mapping m = Memory.anonymous(PAGES * PS)) {
            c.restore(m.segment());
            assertEquals(-1, m.segment().mismatch(MemorySegment.ofArray(last)));
        }
        Run self = run(args("compact", chain, "-o", chain.get(0).toString()));
        assertEquals(2, self.code(), "writing over a link is refused");
        Path packed = dir.resolve("packed.u4s");
        Run z = run(args("compact", chain, "-o", packed.toString(), "--compression", "zstd"));
        assertEquals(0, z.code(), z.err());
        assertTrue(z.out().contains("(ZSTD, "), z.out());
        try (SnapshotFile f = SnapshotFile.open(packed); Mapping m = Memory.anonymous(PAGES * PS)) {
            f.restore(m.segment());
            assertEquals(-1, m.segment().mismatch(MemorySegment.ofArray(last)));
        }
        Run inspect = run(args("inspect", List.of(packed)));
        assertTrue(inspect.out().contains("pages compressed with ZSTD"), inspect.out());
        assertEquals(2, run(args("compact", chain, "-o", packed.toString(), "--compression", "gzip")).code(), "an unknown algorithm");
    }
}
