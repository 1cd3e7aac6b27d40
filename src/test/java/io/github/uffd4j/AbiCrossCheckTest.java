package io.github.uffd4j;

import io.github.uffd4j.internal.gen.UffdNative;
import io.github.uffd4j.internal.linux.Abi;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Compiles a C program with the same headers jextract read (native-headers/uffd4j.h) and checks
 * every constant of the argfile, every struct size and field offset of the generated bindings,
 * and the offsets uffd4j computes itself, against what the C compiler says.
 */
class AbiCrossCheckTest {

    private static final Path HEADERS = Path.of("native-headers");
    private static final Map<String, Long> C = new LinkedHashMap<>();
    private static final List<String> CONSTANTS = new ArrayList<>();
    private static final List<String> STRUCTS = new ArrayList<>();

    /** C expressions of the offsets uffd4j computes from the layouts, by the Java value they must equal. */
    private static final Map<String, Long> OWN_OFFSETS = new LinkedHashMap<>();

    @BeforeAll
    static void compileAndRun(@TempDir Path dir) throws Exception {
        for (String line : Files.readAllLines(HEADERS.resolve("jextract.args"))) {
            String[] w = line.strip().split("\\s+");
            if (w.length == 2 && w[0].equals("--include-constant")) {
                CONSTANTS.add(w[1]);
            } else if (w.length == 2 && w[0].equals("--include-struct")) {
                STRUCTS.add(w[1]);
            }
        }
        OWN_OFFSETS.put("offsetof(struct uffd_msg, event)", Abi.UFFD_MSG_EVENT);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.pagefault.flags)", Abi.UFFD_MSG_PF_FLAGS);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.pagefault.address)", Abi.UFFD_MSG_PF_ADDRESS);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.pagefault.feat.ptid)", Abi.UFFD_MSG_PF_PTID);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.fork.ufd)", Abi.UFFD_MSG_FORK_UFD);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.remap.from)", Abi.UFFD_MSG_REMAP_FROM);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.remap.to)", Abi.UFFD_MSG_REMAP_TO);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.remap.len)", Abi.UFFD_MSG_REMAP_LEN);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.remove.start)", Abi.UFFD_MSG_REMOVE_START);
        OWN_OFFSETS.put("offsetof(struct uffd_msg, arg.remove.end)", Abi.UFFD_MSG_REMOVE_END);
        OWN_OFFSETS.put("sizeof(struct uffd_msg)", EventBuffer.MESSAGE_BYTES);
        OWN_OFFSETS.put("sizeof(struct pollfd)", Abi.POLLFD_SIZE);
        OWN_OFFSETS.put("offsetof(struct pollfd, revents)", Abi.POLLFD_REVENTS);
        OWN_OFFSETS.put("sizeof(struct pm_scan_arg)", Abi.PM_SCAN_ARG_SIZE);
        OWN_OFFSETS.put("offsetof(struct pm_scan_arg, walk_end)", Abi.PM_SCAN_ARG_WALK_END);
        OWN_OFFSETS.put("offsetof(struct pm_scan_arg, return_mask)", Abi.PM_SCAN_ARG_RETURN_MASK);
        OWN_OFFSETS.put("offsetof(struct page_region, categories)", Abi.PAGE_REGION_CATEGORIES);
        // CMSG_* are macros jextract cannot see: Abi computes them from struct cmsghdr
        OWN_OFFSETS.put("CMSG_LEN(0)", Abi.CMSG_DATA);
        OWN_OFFSETS.put("CMSG_LEN(3 * sizeof(int))", Abi.cmsgLen(12));
        OWN_OFFSETS.put("CMSG_SPACE(3 * sizeof(int))", Abi.cmsgSpace(12));
        OWN_OFFSETS.put("CMSG_SPACE(16 * sizeof(int))", Abi.cmsgSpace(64));
        OWN_OFFSETS.put("sizeof(((struct sockaddr_un *) 0)->sun_path)", Abi.SOCKADDR_UN_PATH_BYTES);
        ownStruct("uffdio_range", IoctlCalls.RANGE, "start", null, "len", null, null);
        ownStruct("uffdio_register", IoctlCalls.REGISTER, "range.start", null, "range.len", "mode", null);
        ownStruct("uffdio_zeropage", IoctlCalls.ZEROPAGE, "range.start", null, "range.len", "mode", "zeropage");
        ownStruct("uffdio_writeprotect", IoctlCalls.WRITEPROTECT, "range.start", null, "range.len", "mode", null);
        ownStruct("uffdio_continue", IoctlCalls.CONTINUE, "range.start", null, "range.len", "mode", "mapped");
        ownStruct("uffdio_poison", IoctlCalls.POISON, "range.start", null, "range.len", "mode", "updated");
        ownStruct("uffdio_copy", IoctlCalls.COPY, "dst", "src", "len", "mode", "copy");
        ownStruct("uffdio_move", IoctlCalls.MOVE, "dst", "src", "len", "mode", "move");

        StringBuilder c = new StringBuilder("#include \"uffd4j.h\"\n#include <stddef.h>\n#include <stdio.h>\n")
                .append("#define P(name, expr) printf(\"%s %lld\\n\", name, (long long) (expr))\nint main(void) {\n");
        for (String k : CONSTANTS) {
            c.append("  P(\"").append(k).append("\", ").append(k).append(");\n");
        }
        for (String s : STRUCTS) {
            c.append("  P(\"sizeof ").append(s).append("\", sizeof(struct ").append(s).append("));\n");
            for (String field : fields(s)) {
                c.append("  P(\"").append(s).append('.').append(field).append("\", offsetof(struct ").append(s)
                        .append(", ").append(field).append("));\n");
            }
        }
        for (String expr : OWN_OFFSETS.keySet()) {
            c.append("  P(\"").append(expr).append("\", ").append(expr).append(");\n");
        }
        c.append("  return 0;\n}\n");
        Path src = dir.resolve("abi.c");
        Files.writeString(src, c);
        Path exe = dir.resolve("abi");
        String cc = TestSupport.assumeCCompiler("to cross-check the ABI");
        String out = TestSupport.runCommand(List.of(cc, "-std=gnu11", "-Wall", "-Werror", "-I", HEADERS.toAbsolutePath().toString(),
                "-o", exe.toString(), src.toString()));
        for (String line : TestSupport.runCommand(List.of(exe.toString())).split("\n")) {
            int sp = line.lastIndexOf(' ');
            C.put(line.substring(0, sp), Long.parseLong(line.substring(sp + 1)));
        }
        assertTrue(out.isBlank(), "compiler output: " + out);
    }

    private static void ownStruct(String struct, IoctlCalls.Struct java, String start, String src, String len,
                                  String mode, String result) {
        String[] fields = {start, src, len, mode, result};
        long[] offsets = {java.start(), java.src(), java.len(), java.mode(), java.result()};
        OWN_OFFSETS.put("sizeof(struct " + struct + ")", java.size());
        for (int i = 0; i < fields.length; i++) {
            if (fields[i] == null) {
                assertEquals(-1, offsets[i], struct + " field " + i + " should be absent");
            } else {
                OWN_OFFSETS.put("offsetof(struct " + struct + ", " + fields[i] + ")", offsets[i]);
            }
        }
    }

    private static GroupLayout layout(String struct) throws Exception {
        Class<?> k = Class.forName("io.github.uffd4j.internal.gen." + struct);
        return (GroupLayout) k.getMethod("layout").invoke(null);
    }

    /** The named top-level fields jextract laid out for {@code struct}. */
    private static List<String> fields(String struct) throws Exception {
        List<String> names = new ArrayList<>();
        for (MemoryLayout m : layout(struct).memberLayouts()) {
            m.name().ifPresent(names::add);
        }
        return names;
    }

    @Test
    void everyConstantMatchesTheCHeaders() throws Exception {
        assertTrue(CONSTANTS.size() > 100, "argfile constants: " + CONSTANTS.size());
        for (String k : CONSTANTS) {
            Method m = UffdNative.class.getMethod(k);
            Object v = m.invoke(null);
            long java = v instanceof Integer i ? i : (Long) v;
            long c = C.get(k);
            boolean same = java == c || (v instanceof Integer && (java & 0xffff_ffffL) == c);
            assertTrue(same, k + ": Java " + java + ", C " + c);
        }
    }

    @Test
    void everyStructSizeAndOffsetMatches() throws Exception {
        for (String s : STRUCTS) {
            GroupLayout l = layout(s);
            assertEquals(C.get("sizeof " + s), l.byteSize(), "sizeof " + s);
            assertTrue(l instanceof StructLayout, s);
            for (String f : fields(s)) {
                assertEquals(C.get(s + '.' + f), l.byteOffset(MemoryLayout.PathElement.groupElement(f)), s + '.' + f);
            }
        }
    }

    @Test
    void offsetsUffd4jComputesMatch() {
        OWN_OFFSETS.forEach((expr, java) -> assertEquals(C.get(expr), java, expr));
    }

    /** Every constant of Abi that the argfile names carries the C header's value. */
    @Test
    void abiConstantsMatchTheCHeaders() throws Exception {
        int checked = 0;
        for (java.lang.reflect.Field f : Abi.class.getFields()) {
            if (CONSTANTS.contains(f.getName())) {
                Object v = f.get(null);
                long java = v instanceof Integer i ? i : (Long) v;
                long c = C.get(f.getName());
                assertTrue(java == c || (v instanceof Integer && (java & 0xffff_ffffL) == c), f.getName() + ": Java " + java + ", C " + c);
                checked++;
            }
        }
        assertTrue(checked > 90, "checked " + checked);
    }

    @Test
    void enumsCarryTheHeaderValues() {
        for (Feature f : Feature.values()) {
            assertEquals(C.get("UFFD_FEATURE_" + f.name()), f.bit(), f.name());
        }
        for (RegisterMode m : RegisterMode.values()) {
            assertEquals(C.get("UFFDIO_REGISTER_MODE_" + m.name()), m.bit(), m.name());
        }
        for (Ioctl i : Ioctl.values()) {
            assertEquals(C.get("_UFFDIO_" + i.name()), i.number(), i.name());
            assertEquals(C.get("UFFDIO_" + i.name()), i.request(), i.name());
        }
        for (EventKind k : EventKind.values()) {
            assertEquals(C.get("UFFD_EVENT_" + k.name()), k.code(), k.name());
        }
    }
}
