/**
 * Live snapshots of off-heap memory: {@link io.github.uffd4j.snapshot.LiveSnapshots} takes
 * point-in-time copies by write protection while writers keep writing (copy before write), into
 * files of our own checked format ({@link io.github.uffd4j.snapshot.SnapshotFile}) that restore
 * eagerly or lazily as a page source; {@link io.github.uffd4j.snapshot.TrackedSnapshots} takes
 * incremental ones for plain Java writers (asynchronous write protection, a short pause), restored
 * and compacted as a {@link io.github.uffd4j.snapshot.SnapshotChain}.
 */
package io.github.uffd4j.snapshot;
