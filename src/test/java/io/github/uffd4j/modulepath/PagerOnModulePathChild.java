package io.github.uffd4j.modulepath;

import io.github.uffd4j.pager.PagedMemory;

import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The child JVM of {@code PagerOnModulePathTest}: uffd4j and aircompressor on the module path,
 * this class on the class path (its own package: uffd4j's packages belong to the module). Launches
 * a pager, maps a compressed chunked file through it, reads every byte from plain Java code and
 * prints their CRC32C, then the pager JVM's command line.
 *
 * <p>Arguments: the chunked file, its data size in bytes.
 */
public final class PagerOnModulePathChild {

    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[1]);
        try (PagedMemory pager = PagedMemory.builder().pagerJvmOptions(List.of("-Xmx128m")).connect()) {
            PagedMemory.Region region = pager.map("module-path", size, URI.create("chunked+file:" + args[0]));
            MemorySegment memory = region.segment();
            CRC32C crc = new CRC32C();
            crc.update(memory.asByteBuffer()); // plain Java loads: the pager, another process, serves their faults
            System.out.println("CRC " + Long.toHexString(crc.getValue()));
            // the pager JVM's command line, for the test to check which modules it was given
            ProcessHandle.current().descendants().map(h -> h.info().arguments()).flatMap(java.util.Optional::stream)
                    .map(a -> String.join(" ", a)).filter(a -> a.contains("PagerLaunch"))
                    .forEach(a -> System.out.println("PAGER " + a));
        }
    }
}
