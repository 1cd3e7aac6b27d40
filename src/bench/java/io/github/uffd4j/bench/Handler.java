package io.github.uffd4j.bench;

/** A workload's fault handler: a thread in this JVM ({@link RawHandler}) or in another ({@link RemoteHandler}). */
interface Handler extends AutoCloseable {

    /** Throws if the handler has failed. */
    void check();

    /** Stops it and rethrows what made it fail, if anything did. */
    @Override
    void close();
}
