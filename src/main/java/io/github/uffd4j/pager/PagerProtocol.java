package io.github.uffd4j.pager;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;

/**
 * The app-pager protocol, version 1: one message per SOCK_SEQPACKET packet, big-endian, each
 * starting with the magic {@code "UFFP"}, the version (u16) and the type (u8). The app sends
 * requests and the pager answers each with a {@link Reply}, in order.
 *
 * <pre>
 *   HELLO  features (u64), descriptor number in the app (u32)
 *                                        + the userfaultfd, by SCM_RIGHTS (exactly one descriptor)
 *   RESUME                               (to a pager that recovered this app's service after the
 *                                         previous pager died; the app is known by its pid)
 *   ADD    name, address, length, page size, source URI (strings: u16 length + UTF-8), backing (u8),
 *          memfd number in the app (s32, -1 for private memory)
 *                                        + for shared backings the memfd, by SCM_RIGHTS
 *   REMOVE address
 *   BYE
 *   REPLY  ok (u8), text
 *   STATS                                (the app asks for the counters of its service)
 *   STATS_REPLY 13 counters (u64: FaultStats in its order), latency buckets (u16 count + u64 each)
 *   SNAPSHOT region address, file path (string)   (the app holds its writers still meanwhile: the
 *                                         pager notes the pages present, write-protects the region and
 *                                         answers; it saves the pages in the background)
 *   SNAPSHOT_STATUS region address        (how far the region's latest snapshot got)
 *   SNAPSHOT_REPLY pause ns, pages, saved in background, saved before a write, zero pages left out,
 *          bytes written (u64 each), done (u8), failure (string, empty if none): the answer to both
 * </pre>
 *
 * Decoding checks every length and value and throws {@link PagerException} for anything else:
 * the pager answers such a message with an error and closes the connection. Stateless: thread safe.
 */
final class PagerProtocol {

    static final int MAGIC = 0x55464650; // "UFFP"
    static final int VERSION = 1;
    static final int MAX_NAME = 256;
    static final int MAX_URI = 4096;
    static final int MAX_TEXT = 4096;

    enum Type { HELLO, ADD, REMOVE, BYE, REPLY, RESUME, STATS, STATS_REPLY, SNAPSHOT, SNAPSHOT_STATUS, SNAPSHOT_REPLY }
    static final int MAX_BUCKETS = 4096;

    private PagerProtocol() {
    }

    sealed interface Message permits Hello, Add, Remove, Bye, Reply, Resume, Stats, StatsReply, Snapshot, SnapshotStatus,
            SnapshotReply {
    }

    /** @param file an absolute path, written by the pager */
    record Snapshot(long address, String file) implements Message {
    }

    record SnapshotStatus(long address) implements Message {
    }

    record SnapshotReply(long pauseNanos, long pages, long savedInBackground, long savedBeforeWrite, long zeroPagesLeftOut,
                         long bytesWritten, boolean done, String failure) implements Message {
    }

    record Stats() implements Message {
    }

    record StatsReply(io.github.uffd4j.handler.FaultStats stats) implements Message {
    }

    /** @param appFd the userfaultfd's number in the app, for a pager's replacement to take it with pidfd_getfd */
    record Hello(long features, int appFd) implements Message {
    }

    record Resume() implements Message {
    }

    /** @param appMemfd the memfd's number in the app (-1 for private memory), for a replacement pager */
    record Add(RegionSpec region, int appMemfd) implements Message {
    }

    record Remove(long address) implements Message {
    }

    record Bye() implements Message {
    }

    record Reply(boolean ok, String text) implements Message {
    }

    static byte[] encode(Message m) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeShort(VERSION);
            switch (m) {
                case Hello h -> {
                    out.writeByte(Type.HELLO.ordinal());
                    out.writeLong(h.features());
                    out.writeInt(h.appFd());
                }
                case Add a -> {
                    out.writeByte(Type.ADD.ordinal());
                    RegionSpec r = a.region();
                    writeString(out, r.name(), MAX_NAME);
                    out.writeLong(r.address());
                    out.writeLong(r.length());
                    out.writeLong(r.pageSize());
                    writeString(out, r.source().toString(), MAX_URI);
                    out.writeByte(r.backing().ordinal());
                    out.writeInt(a.appMemfd());
                }
                case Remove r -> {
                    out.writeByte(Type.REMOVE.ordinal());
                    out.writeLong(r.address());
                }
                case Bye b -> out.writeByte(Type.BYE.ordinal());
                case Resume r -> out.writeByte(Type.RESUME.ordinal());
                case Stats r -> out.writeByte(Type.STATS.ordinal());
                case StatsReply r -> {
                    out.writeByte(Type.STATS_REPLY.ordinal());
                    io.github.uffd4j.handler.FaultStats f = r.stats();
                    for (long v : new long[] {f.faults(), f.pagesLoaded(), f.backgroundPages(), f.bytesLoaded(), f.sourceCalls(),
                            f.alreadyPresent(), f.eexist(), f.eagain(), f.events(), f.failures(), f.timeouts(), f.selfFaults(),
                            f.writeFaults()}) {
                        out.writeLong(v);
                    }
                    long[] buckets = f.latency().bucketCounts();
                    out.writeShort(buckets.length);
                    for (long c : buckets) {
                        out.writeLong(c);
                    }
                }
                case Snapshot r -> {
                    out.writeByte(Type.SNAPSHOT.ordinal());
                    out.writeLong(r.address());
                    writeString(out, r.file(), MAX_TEXT);
                }
                case SnapshotStatus r -> {
                    out.writeByte(Type.SNAPSHOT_STATUS.ordinal());
                    out.writeLong(r.address());
                }
                case SnapshotReply r -> {
                    out.writeByte(Type.SNAPSHOT_REPLY.ordinal());
                    for (long v : new long[] {r.pauseNanos(), r.pages(), r.savedInBackground(), r.savedBeforeWrite(),
                            r.zeroPagesLeftOut(), r.bytesWritten()}) {
                        out.writeLong(v);
                    }
                    out.writeBoolean(r.done());
                    writeString(out, r.failure().length() > MAX_TEXT ? r.failure().substring(0, MAX_TEXT) : r.failure(), MAX_TEXT);
                }
                case Reply r -> {
                    out.writeByte(Type.REPLY.ordinal());
                    out.writeBoolean(r.ok());
                    String text = r.text().length() > MAX_TEXT ? r.text().substring(0, MAX_TEXT) : r.text();
                    writeString(out, text, MAX_TEXT);
                }
            }
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        return bytes.toByteArray();
    }

    static Message decode(byte[] data) {
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
        try {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new PagerException("not a uffd4j pager message (magic 0x" + Integer.toHexString(magic) + ")");
            }
            int version = in.readUnsignedShort();
            if (version != VERSION) {
                throw new PagerException("protocol version " + version + " is not supported (this side speaks " + VERSION
                        + "): run the app and the pager from the same uffd4j version");
            }
            int type = in.readUnsignedByte();
            if (type >= Type.values().length) {
                throw new PagerException("unknown message type " + type);
            }
            Message m = switch (Type.values()[type]) {
                case HELLO -> hello(in.readLong(), in.readInt());
                case RESUME -> new Resume();
                case ADD -> add(in);
                case REMOVE -> new Remove(in.readLong());
                case BYE -> new Bye();
                case REPLY -> new Reply(in.readBoolean(), readString(in, MAX_TEXT));
                case STATS -> new Stats();
                case STATS_REPLY -> statsReply(in);
                case SNAPSHOT -> new Snapshot(in.readLong(), readString(in, MAX_TEXT));
                case SNAPSHOT_STATUS -> new SnapshotStatus(in.readLong());
                case SNAPSHOT_REPLY -> new SnapshotReply(in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readLong(),
                        in.readLong(), in.readBoolean(), readString(in, MAX_TEXT));
            };
            if (in.available() > 0) {
                throw new PagerException("a " + Type.values()[type] + " message has " + in.available() + " bytes too many");
            }
            return m;
        } catch (EOFException truncated) {
            throw new PagerException("truncated message (" + data.length + " bytes)");
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
    }

    private static Hello hello(long features, int appFd) {
        if (appFd < 0) {
            throw new PagerException("HELLO names a negative descriptor number " + appFd);
        }
        return new Hello(features, appFd);
    }

    private static StatsReply statsReply(DataInputStream in) throws IOException {
        long[] c = new long[13];
        for (int i = 0; i < c.length; i++) {
            c[i] = in.readLong();
        }
        int n = in.readUnsignedShort();
        if (n > MAX_BUCKETS) {
            throw new PagerException("a STATS_REPLY with " + n + " latency buckets");
        }
        long[] buckets = new long[n];
        for (int i = 0; i < n; i++) {
            buckets[i] = in.readLong();
        }
        try {
            return new StatsReply(new io.github.uffd4j.handler.FaultStats(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
                    c[9], c[10], c[11], c[12], 0 /* a pager serves another process's memory: it never moves pages */,
                    io.github.uffd4j.handler.LatencySnapshot.ofBucketCounts(buckets)));
        } catch (IllegalArgumentException e) {
            throw new PagerException("bad STATS_REPLY: " + e.getMessage());
        }
    }

    private static Add add(DataInputStream in) throws IOException {
        String name = readString(in, MAX_NAME);
        long address = in.readLong();
        long length = in.readLong();
        long pageSize = in.readLong();
        String uri = readString(in, MAX_URI);
        int backing = in.readUnsignedByte();
        int memfd = in.readInt();
        if (backing >= RegionSpec.Backing.values().length) {
            throw new PagerException("unknown backing " + backing);
        }
        RegionSpec.Backing b = RegionSpec.Backing.values()[backing];
        if (b.isShared() != (memfd >= 0)) {
            throw new PagerException("a " + b + " region " + (b.isShared() ? "needs" : "has no") + " memfd number, not " + memfd);
        }
        try {
            return new Add(new RegionSpec(name, address, length, pageSize, new URI(uri), b), memfd);
        } catch (URISyntaxException e) {
            throw new PagerException("bad source URI: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new PagerException("bad region: " + e.getMessage());
        }
    }

    private static void writeString(DataOutputStream out, String s, int max) throws IOException {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (b.length > max * 4) {
            throw new IllegalArgumentException("string of " + b.length + " bytes is too long");
        }
        out.writeShort(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in, int max) throws IOException {
        int n = in.readUnsignedShort();
        if (n > max * 4) {
            throw new PagerException("a string of " + n + " bytes is longer than allowed (" + max + " characters)");
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }
}
