package io.github.uffd4j.pager;

import io.github.uffd4j.handler.PageSource;

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
        PageSource pattern = Sources.open(URI.create("pattern:" + uri.getSchemeSpecificPart()), length);
        return (offset, destination) -> {
            for (long o = 0; o < destination.byteSize(); o += 4096) {
                if (((offset + o) / 4096) % 256 == 100) {
                    Thread.sleep(Long.MAX_VALUE);
                }
            }
            pattern.fill(offset, destination);
        };
    }
}
