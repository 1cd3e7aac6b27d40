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
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        int code;
        try {
            code = Demo.run("--size", "48M", "--lookups", "300", "--no-progress");
        } finally {
            System.setOut(out);
        }
        String text = buf.toString();
        System.out.print(text);
        assertEquals(0, code, text);
        assertTrue(text.contains("every byte read matches the dataset"), text);
        assertTrue(text.contains("Time to first byte"), text);
        assertTrue(text.contains("p99.9"), text);
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
