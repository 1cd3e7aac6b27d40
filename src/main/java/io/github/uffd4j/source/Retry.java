package io.github.uffd4j.source;

import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The retry rule of the remote readers: a ranged read is tried up to {@link #ATTEMPTS} times with
 * growing, jittered pauses (about 0.1, 0.2, 0.4 s). An attempt that throws a
 * {@link DatasetException} is final (the store refused, the object changed); anything else it
 * throws (a 5xx, a timeout, a reset connection, a short body) is worth another try.
 */
final class Retry {

    static final int ATTEMPTS = 4;

    private Retry() {
    }

    /** One try; returns normally on success. */
    @FunctionalInterface
    interface Attempt {
        void run() throws Exception;
    }

    /** Runs {@code attempt} until it succeeds or fails for good; {@code what} says what it reads, for the message. */
    static void run(String what, Attempt attempt) throws DatasetException {
        Exception last = null;
        for (int n = 1; n <= ATTEMPTS; n++) {
            try {
                attempt.run();
                return;
            } catch (DatasetException e) {
                throw e;
            } catch (Exception e) {
                last = e;
            }
            if (n < ATTEMPTS) {
                long pause = (50L << n) + ThreadLocalRandom.current().nextLong(25L << n);
                try {
                    Thread.sleep(pause);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new DatasetException(what + ": interrupted while waiting to retry", e);
                }
            }
        }
        throw new DatasetException(what + " failed " + ATTEMPTS + " times; last: " + last, last);
    }

    /**
     * The HTTP range ({@code "bytes=FIRST-LAST"}) of {@code want} bytes (at least one) at
     * {@code offset} of {@code in}, checked against its size first.
     */
    static String httpRange(RangeReader in, long offset, int want) throws DatasetException {
        if (offset < 0 || offset + want > in.size()) {
            throw new DatasetException(in.describe() + ": bytes [" + offset + ", " + (offset + want) + ") are outside its "
                    + in.size() + " bytes");
        }
        return "bytes=" + offset + "-" + (offset + want - 1);
    }

    /** A short body: worth another try (the connection may have been cut). */
    static IOException shortBody(String what, int got, int want) {
        return new IOException(what + " answered " + got + " bytes instead of " + want);
    }
}
