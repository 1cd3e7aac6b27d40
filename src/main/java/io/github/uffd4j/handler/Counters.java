package io.github.uffd4j.handler;

import java.util.concurrent.atomic.LongAdder;

/** The counters of one service, shared by all its threads. Thread safe and allocation-free to update. */
final class Counters {
    final LongAdder faults = new LongAdder();
    final LongAdder pages = new LongAdder();
    final LongAdder backgroundPages = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder sourceCalls = new LongAdder();
    final LongAdder alreadyPresent = new LongAdder();
    final LongAdder eexist = new LongAdder();
    final LongAdder eagain = new LongAdder();
    final LongAdder events = new LongAdder();
    final LongAdder failures = new LongAdder();
    final LongAdder timeouts = new LongAdder();
    final LongAdder selfFaults = new LongAdder();
    final LongAdder writeFaults = new LongAdder();
    /** Pages installed by UFFDIO_MOVE from a staging buffer (also counted in pages or backgroundPages). */
    final LongAdder moved = new LongAdder();
    final LatencyHistogram latency = new LatencyHistogram();

    /** Pages filled, counted before the ioctl that wakes the faulting thread (see {@link FaultStats}). */
    void loaded(long pageCount, long pageBytes, boolean urgent) {
        (urgent ? pages : backgroundPages).add(pageCount);
        bytes.add(pageCount * pageBytes);
    }

    FaultStats snapshot() {
        return new FaultStats(faults.sum(), pages.sum(), backgroundPages.sum(), bytes.sum(), sourceCalls.sum(),
                alreadyPresent.sum(), eexist.sum(), eagain.sum(), events.sum(), failures.sum(), timeouts.sum(),
                selfFaults.sum(), writeFaults.sum(), moved.sum(), latency.snapshot());
    }
}
