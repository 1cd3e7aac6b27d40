package io.github.uffd4j.source;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 proxy on loopback between a client and a real server, that spoils chosen ranged
 * GETs: answers 500 itself, resets the connection, stalls, or cuts the body short. Requests are
 * relayed one by one (keep-alive kept on both sides), so it also counts connections and requests.
 */
final class FaultProxy implements AutoCloseable {

    enum Fault {
        /** Answers 500 Internal Server Error itself (the connection stays usable). */
        STATUS_500,
        /** Resets the connection (RST) instead of answering. */
        RESET,
        /** Waits {@link #stall} before relaying: longer than the client's timeout. */
        STALL,
        /** Relays the answer's head and half its body, then closes. */
        TRUNCATE
    }

    private final ServerSocket listener;
    private final InetSocketAddress upstream;
    private final Queue<Fault> faults = new ConcurrentLinkedQueue<>();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger requests = new AtomicInteger();
    final AtomicInteger rangedGets = new AtomicInteger();
    final AtomicInteger injected = new AtomicInteger();
    final AtomicInteger mostInFlight = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    volatile Duration stall = Duration.ofSeconds(3);
    private volatile boolean closed;
    private volatile Fault always;

    FaultProxy(int upstreamPort) throws IOException {
        this.upstream = new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofPlatform().daemon().name("fault-proxy").start(this::accept);
    }

    int port() {
        return listener.getLocalPort();
    }

    /** The next ranged GETs meet these faults, one each, in order. */
    void inject(Fault... next) {
        faults.addAll(java.util.List.of(next));
    }

    /** Every ranged GET from now on meets {@code fault} (null: none), after the queued ones. */
    void always(Fault fault) {
        always = fault;
    }

    int pending() {
        return faults.size();
    }

    private void accept() {
        while (!closed) {
            try {
                Socket client = listener.accept();
                connections.incrementAndGet();
                Thread.ofPlatform().daemon().name("fault-proxy-conn").start(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client; Socket server = new Socket()) {
            server.connect(upstream);
            InputStream fromClient = new BufferedInputStream(client.getInputStream());
            InputStream fromServer = new BufferedInputStream(server.getInputStream());
            OutputStream toClient = client.getOutputStream();
            OutputStream toServer = server.getOutputStream();
            while (true) {
                Head request = Head.read(fromClient);
                if (request == null) {
                    return;
                }
                requests.incrementAndGet();
                boolean rangedGet = request.line.startsWith("GET ") && request.header("range") != null;
                Fault fault = null;
                if (rangedGet) {
                    rangedGets.incrementAndGet();
                    fault = faults.poll();
                    if (fault == null) {
                        fault = always;
                    }
                }
                if (fault != null) {
                    injected.incrementAndGet();
                }
                if (fault == Fault.STATUS_500) {
                    byte[] body = "<Error><Code>InternalError</Code><Message>injected</Message></Error>".getBytes(StandardCharsets.US_ASCII);
                    toClient.write(("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nContent-Length: "
                            + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    toClient.write(body);
                    toClient.flush();
                    continue;
                }
                if (fault == Fault.RESET) {
                    client.setSoLinger(true, 0);
                    return;
                }
                if (fault == Fault.STALL) {
                    Thread.sleep(stall.toMillis());
                }
                mostInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                try {
                    relay(request, fault, fromClient, toServer, fromServer, toClient);
                } finally {
                    inFlight.decrementAndGet();
                }
                if (fault == Fault.TRUNCATE) {
                    return;
                }
            }
        } catch (IOException | InterruptedException e) {
            // the client or the server went away: drop the connection, as a real proxy would
        }
    }

    /** Relays one request and its answer (half the answer's body for TRUNCATE). */
    private static void relay(Head request, Fault fault, InputStream fromClient, OutputStream toServer, InputStream fromServer,
                              OutputStream toClient) throws IOException {
        toServer.write(request.bytes);
        relayBody(request, fromClient, toServer, Long.MAX_VALUE);
        toServer.flush();
        Head response = Head.read(fromServer);
        if (response == null) {
            throw new IOException("the server closed the connection");
        }
        toClient.write(response.bytes);
        boolean head = request.line.startsWith("HEAD ");
        if (!head) {
            long length = response.header("content-length") != null ? Long.parseLong(response.header("content-length")) : -1;
            if (fault == Fault.TRUNCATE && length > 0) {
                relayBody(response, fromServer, toClient, length / 2);
                toClient.flush();
                return;
            }
            relayBody(response, fromServer, toClient, Long.MAX_VALUE);
        }
        toClient.flush();
    }

    /** Relays a message body framed by Content-Length or chunked encoding, at most {@code limit} bytes of it. */
    private static void relayBody(Head head, InputStream in, OutputStream out, long limit) throws IOException {
        String length = head.header("content-length");
        if (length != null) {
            copy(in, out, Math.min(limit, Long.parseLong(length)));
        } else if ("chunked".equalsIgnoreCase(head.header("transfer-encoding"))) {
            while (true) {
                String size = readLine(in);
                out.write((size + "\r\n").getBytes(StandardCharsets.US_ASCII));
                long n = Long.parseLong(size.split(";")[0].trim(), 16);
                copy(in, out, n + 2);
                if (n == 0) {
                    return;
                }
            }
        }
    }

    private static void copy(InputStream in, OutputStream out, long n) throws IOException {
        byte[] buf = new byte[64 << 10];
        while (n > 0) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n));
            if (r < 0) {
                throw new IOException("closed mid-body");
            }
            out.write(buf, 0, r);
            n -= r;
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            if (c != '\r') {
                line.write(c);
            }
        }
        if (c < 0 && line.size() == 0) {
            return null;
        }
        return line.toString(StandardCharsets.US_ASCII);
    }

    /** A request or response head: the first line, the headers, and the raw bytes to relay. */
    private record Head(String line, java.util.Map<String, String> headers, byte[] bytes) {

        static Head read(InputStream in) throws IOException {
            String first = readLine(in);
            if (first == null) {
                return null;
            }
            StringBuilder raw = new StringBuilder(first).append("\r\n");
            java.util.Map<String, String> headers = new java.util.HashMap<>();
            for (String h; (h = readLine(in)) != null && !h.isEmpty(); ) {
                raw.append(h).append("\r\n");
                int colon = h.indexOf(':');
                if (colon > 0) {
                    headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
                }
            }
            raw.append("\r\n");
            return new Head(first, headers, raw.toString().getBytes(StandardCharsets.ISO_8859_1));
        }

        String header(String name) {
            return headers.get(name);
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
    }
}
