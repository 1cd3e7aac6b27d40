package io.github.uffd4j.handler;

import io.github.uffd4j.Doorbell;
import io.github.uffd4j.Userfaultfd;

import java.time.Duration;

/**
 * The collaborators a service's threads share, handed to each explicitly: the descriptor and
 * its stop doorbell, the region table, the counters, the zap gate, the kernel rules, the failure
 * handling, the settings, and the queue of the readahead threads (null when there are none).
 * Every member is thread safe.
 */
record ServiceContext(Userfaultfd uffd, Doorbell doorbell, RegionTable regions, Counters counters, ZapGate gate,
                      PageInstaller installer, FailureOutcomes failures, FailureReporter reporter, Settings settings,
                      ReadaheadQueue readahead) {

    /** The service's settings, fixed at start. */
    record Settings(int threads, int readaheadThreads, int batchSize, long faultAround, long maxReadahead,
                    boolean backgroundFill, FailurePolicy policy, Duration closeTimeout, boolean poisonOnClose) {
    }
}
