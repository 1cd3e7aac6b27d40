/**
 * Live snapshots of off-heap memory: {@link io.github.uffd4j.snapshot.LiveSnapshots} takes
 * point-in-time copies by write protection while writers keep writing (copy before write), into
 * files of our own checked format ({@link io.github.uffd4j.snapshot.SnapshotFile}) that restore
 * eagerly or lazily as a page source.
 */
package io.github.uffd4j.snapshot;
