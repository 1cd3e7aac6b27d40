package io.github.uffd4j;

/**
 * A range ioctl named a range that is not (or no longer) inside a range registered with the
 * userfaultfd: never registered, unregistered, or unmapped (an UNMAP event read) or moved (a
 * REMAP event read) since. Thrown in Java, before any system call. Nobody can be waiting for a
 * fault on such a range.
 */
public class RangeNotRegisteredException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    RangeNotRegisteredException(String message) {
        super(message);
    }
}
