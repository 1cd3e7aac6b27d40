package io.github.uffd4j.pager;

import io.github.uffd4j.handler.PageSource;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;

/**
 * A test source found by ServiceLoader in the pager: {@code stall:SEED} serves
 * {@code Sources.patternWord(SEED, offset)}, except that a call covering a page whose index is
 * 100 modulo 256 never returns: the pager's fault deadline must poison it.
 */
public final class StallingSourceProvider implements PageSourceProvider {

    @Override
    public String scheme() {
        return "stall";
    }

    @Override
    public PageSource open(URI uri, long length) {
        long seed = Long.parseLong(uri.getSchemeSpecificPart());
        return (offset, destination) -> {
            for (long o = 0; o < destination.byteSize(); o += 4096) {
                if (((offset + o) / 4096) % 256 == 100) {
                    Thread.sleep(Long.MAX_VALUE);
                }
            }
            fill(seed, offset, destination);
        };
    }

    private static void fill(long seed, long offset, MemorySegment destination) {
        for (long o = 0; o < destination.byteSize(); o += 8) {
            destination.set(ValueLayout.JAVA_LONG_UNALIGNED, o, Sources.patternWord(seed, offset + o));
        }
    }
}
