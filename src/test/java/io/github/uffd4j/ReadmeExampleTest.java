package io.github.uffd4j;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The example of README.md, as written there (keep the two in step), and every example of the
 * README that starts with its imports compiled as it stands: a missing import fails here.
 */
class ReadmeExampleTest {

    @Test
    void readmeExamplesWithImportsCompile() throws Exception {
        List<String> blocks = javaBlocksWithImports(Files.readString(Path.of("README.md")));
        assertTrue(blocks.size() >= 3, "README examples that start with imports: " + blocks.size());
        Path dir = Files.createTempDirectory("uffd4j-readme-");
        try {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "javac").toString(),
                    "-proc:none", "-d", dir.resolve("classes").toString(), "-cp", System.getProperty("java.class.path")));
            for (int i = 0; i < blocks.size(); i++) {
                cmd.add(Files.writeString(dir.resolve("ReadmeBlock" + i + ".java"), asClass("ReadmeBlock" + i, blocks.get(i))).toString());
            }
            ChildJvm.Result javac = ChildJvm.run(cmd, java.time.Duration.ofSeconds(120));
            assertTrue(javac.ok(), javac.describe());
        } finally {
            try (var files = Files.walk(dir)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(f);
                }
            }
        }
    }

    /** The bodies of the ```java blocks whose first line is an import. */
    private static List<String> javaBlocksWithImports(String readme) {
        List<String> blocks = new ArrayList<>();
        int at = 0;
        while ((at = readme.indexOf("```java\n", at)) >= 0) {
            int start = at + "```java\n".length();
            int end = readme.indexOf("```", start);
            String block = readme.substring(start, end);
            if (block.startsWith("import ")) {
                blocks.add(block);
            }
            at = end + 3;
        }
        return blocks;
    }

    /** A block's imports on top of a class whose one method holds the rest of the block. */
    private static String asClass(String name, String block) {
        StringBuilder imports = new StringBuilder();
        StringBuilder body = new StringBuilder();
        for (String line : block.split("\n")) {
            (line.startsWith("import ") ? imports : body).append(line).append('\n');
        }
        return imports + "class " + name + " {\n    void example() throws Exception {\n" + body + "    }\n}\n";
    }

    @Test
    void theReadmeExampleServesAFault() throws Exception {
        Thread handlerThread;
        byte read;
        try (Userfaultfd uffd = Userfaultfd.open();
             Mapping region = Memory.anonymous(1 << 20)) {
            uffd.register(region.segment(), RegisterMode.MISSING);

            // the handler: wait for faults, fill each faulting page
            Thread handler = Thread.ofPlatform().start(() -> {
                try (EventBuffer events = EventBuffer.allocate(16); Arena arena = Arena.ofConfined()) {
                    MemorySegment page = arena.allocate(Memory.pageSize(), Memory.pageSize());
                    for (;;) {
                        int n = uffd.read(events);                      // waits; uffd.close() ends it
                        for (int i = 0; i < n; i++) {
                            if (events.kind(i) == EventKind.PAGEFAULT) {
                                page.fill((byte) 42);                   // your contents here
                                uffd.copy(events.faultAddress(i), page.address(), page.byteSize(), 0);
                            }
                        }
                    }
                } catch (IllegalStateException closed) {
                    // the userfaultfd was closed
                }
            });

            region.populateRead(0, Memory.pageSize());  // touch the first page: it faults, waits, is served
            byte b = region.segment().get(ValueLayout.JAVA_BYTE, 0);  // 42
            read = b;
            handlerThread = handler;
        }
        assertEquals(42, read);
        handlerThread.join(TimeUnit.SECONDS.toMillis(10));
        assertTrue(!handlerThread.isAlive(), "closing the userfaultfd ended the handler thread");
    }
}
