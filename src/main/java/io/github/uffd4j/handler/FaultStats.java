package io.github.uffd4j.handler;

/**
 * The counters of a {@link FaultService} at one moment.
 *
 * @param faults          page-fault messages handled
 * @param pagesLoaded     pages filled by the fault path (including fault-around and readahead)
 * @param backgroundPages pages filled by the background filler
 * @param bytesLoaded     bytes filled by either path
 * @param sourceCalls     calls to page sources
 * @param alreadyPresent  faults on pages already present (another fault or the filler got there first)
 * @param eexist          fills that met EEXIST (answered with UFFDIO_WAKE)
 * @param eagain          fills that met EAGAIN (events applied, then retried)
 * @param events          REMOVE, UNMAP and REMAP events applied
 * @param failures        failed attempts (source threw, timed out, self-fault, kernel error)
 * @param timeouts        attempts that ran past the policy's timeout
 * @param selfFaults      faults raised by the service's own threads
 * @param writeFaults     write-protect faults handled
 * @param pagesMoved      of the pages loaded, those moved into place whole (UFFDIO_MOVE of a huge-page block
 *                        from a loader's staging buffer) instead of copied
 * @param latency         service time of each fault, from reading its message to resolving it
 */
public record FaultStats(long faults, long pagesLoaded, long backgroundPages, long bytesLoaded, long sourceCalls,
                         long alreadyPresent, long eexist, long eagain, long events, long failures, long timeouts,
                         long selfFaults, long writeFaults, long pagesMoved, LatencySnapshot latency) {

    @Override
    public String toString() {
        return "faults=" + faults + " pagesLoaded=" + pagesLoaded + " backgroundPages=" + backgroundPages
                + " bytesLoaded=" + bytesLoaded + " sourceCalls=" + sourceCalls + " alreadyPresent=" + alreadyPresent
                + " eexist=" + eexist + " eagain=" + eagain + " events=" + events + " failures=" + failures
                + " timeouts=" + timeouts + " selfFaults=" + selfFaults + " writeFaults=" + writeFaults + " pagesMoved=" + pagesMoved
                + " latency[" + latency + "]";
    }
}
