package io.github.uffd4j;

import io.github.uffd4j.internal.linux.Errno;

import java.util.Set;

/**
 * What the kernel answered to one UFFDIO_API handshake sent with exactly the values asked for, by
 * {@link Userfaultfd#probeApi(long, long)}: the struct's fields as the kernel left them and the
 * errno. On success {@code features} is every feature the kernel supports, whatever was asked
 * (the request enables only the features asked for), and {@code ioctls} the ioctls the descriptor
 * then allows; on failure the kernel clears the struct (Linux 6.x), so both read 0.
 *
 * <p>Immutable: thread safe.
 *
 * @param api               the api value sent
 * @param requestedFeatures the feature mask sent
 * @param errno             0 when the handshake succeeded, else its errno (EINVAL for an api
 *                          other than {@link Userfaultfd#UFFD_API} or an unknown feature bit,
 *                          EPERM for a feature this process may not have)
 * @param features          the {@code features} field after the call
 * @param ioctls            the {@code ioctls} field after the call ({@code 1 << }{@link Ioctl#number()} bits)
 */
public record ApiProbe(long api, long requestedFeatures, int errno, long features, long ioctls) {

    /**
     * Whether the kernel accepted the handshake.
     *
     * @return true when {@code errno} is 0
     */
    public boolean succeeded() {
        return errno == 0;
    }

    /**
     * The errno's symbol ("EINVAL"), or "OK" when the handshake succeeded.
     *
     * @return the symbolic name
     */
    public String errnoName() {
        return errno == 0 ? "OK" : Errno.name(errno);
    }

    /**
     * The {@code features} field as the features uffd4j knows; bits it does not know (a kernel
     * newer than uffd4j) are left out: see {@link #features()} for them.
     *
     * @return the known features, a new set
     */
    public Set<Feature> featureSet() {
        return Feature.fromMask(features);
    }

    /**
     * The {@code ioctls} field as ioctls.
     *
     * @return the ioctls, a new set
     */
    public Set<Ioctl> ioctlSet() {
        return Ioctl.fromMask(ioctls);
    }
}
