/**
 * Linux userfaultfd for the JVM: open a {@link io.github.uffd4j.Userfaultfd}, register
 * off-heap memory ({@link io.github.uffd4j.Memory}), read fault events and resolve them with the
 * UFFDIO_* ioctls.
 */
package io.github.uffd4j;
