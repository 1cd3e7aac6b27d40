package io.github.uffd4j.modulepath;

import io.github.uffd4j.ChildJvm;
import io.github.uffd4j.source.ChunkedWriter;
import io.github.uffd4j.source.Compression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An application on the module path launches a pager that serves a compressed chunked file: the
 * pager JVM gets the modules the application resolved (the codec library, which uffd4j finds by
 * reflection, and the runtime's, such as java.net.http for http sources) and native access for
 * them. It once got uffd4j's module alone and refused every
 * compressed source ("LZ4 needs the compression library").
 */
@Timeout(120)
class PagerOnModulePathTest {

    private static String locationOf(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    @Test
    void aPagerLaunchedFromTheModulePathServesCompressedChunkedFiles(@TempDir Path dir) throws Exception {
        byte[] data = new byte[4 << 20];
        Random random = new Random(7);
        for (int i = 0; i < data.length; i += 64) {
            byte[] record = ("{\"id\":" + random.nextInt(1_000_000) + ",\"name\":\"item\"}").getBytes();
            System.arraycopy(record, 0, data, i, Math.min(record.length, data.length - i));
        }
        Path packed = dir.resolve("data.u4c");
        ChunkedWriter.builder().compression(Compression.LZ4).chunkSize(256 << 10).write(new ByteArrayInputStream(data), packed);
        CRC32C expected = new CRC32C();
        expected.update(data);

        // where this JVM found uffd4j, these tests and the codec library (directories or jars, wherever the suite runs)
        String library = locationOf(io.github.uffd4j.Memory.class);
        String tests = locationOf(PagerOnModulePathChild.class);
        String codec = locationOf(Class.forName("io.airlift.compress.v3.lz4.Lz4Compressor"));
        List<String> cmd = new ArrayList<>(List.of(ChildJvm.java(), "-Xmx128m",
                "--enable-native-access=io.github.uffd4j,aircompressor.v3,ALL-UNNAMED",
                "--module-path", library + File.pathSeparator + codec, "--add-modules", "io.github.uffd4j,aircompressor.v3",
                "-cp", tests, PagerOnModulePathChild.class.getName(), packed.toString(), Integer.toString(data.length)));
        ChildJvm.Result r = ChildJvm.run(cmd, Duration.ofSeconds(90));
        assertTrue(r.ok(), r.describe());
        assertEquals("CRC " + Long.toHexString(expected.getValue()),
                r.output().lines().filter(l -> l.startsWith("CRC ")).findFirst().orElse(r.describe()));
        // the runtime image's modules go along too: java.net.http serves http(s) sources
        String pager = r.output().lines().filter(l -> l.startsWith("PAGER ")).findFirst().orElse(r.describe());
        java.util.regex.Matcher added = java.util.regex.Pattern.compile("--add-modules (\\S+)").matcher(pager);
        assertTrue(added.find(), pager);
        List<String> modules = List.of(added.group(1).split(","));
        assertTrue(modules.containsAll(List.of("aircompressor.v3", "java.net.http")), "the pager's modules: " + modules);
    }
}
