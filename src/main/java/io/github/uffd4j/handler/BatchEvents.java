package io.github.uffd4j.handler;

import io.github.uffd4j.internal.Jfr;

/**
 * Commits the JFR {@code io.github.uffd4j.FaultBatch} event for a batch, without allocating when
 * JFR does not record it. Event classes load only once JFR has started: loading one costs about
 * a tenth of a second, which a service nobody records should not pay.
 */
final class BatchEvents {

    private static volatile FaultBatchEvent probe;

    private BatchEvents() {
    }

    static void commit(int messages, int faults, long pages, long bytes, long nanos) {
        if (!Jfr.started()) {
            return;
        }
        FaultBatchEvent p = probe;
        if (p == null) {
            p = new FaultBatchEvent();
            probe = p;
        }
        if (p.isEnabled()) {
            FaultBatchEvent e = new FaultBatchEvent();
            e.messages = messages;
            e.faults = faults;
            e.pages = pages;
            e.bytes = bytes;
            e.serviceNanos = nanos;
            e.commit();
        }
    }
}
