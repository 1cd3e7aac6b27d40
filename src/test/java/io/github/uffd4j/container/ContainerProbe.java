package io.github.uffd4j.container;

import io.github.uffd4j.CreationPath;
import io.github.uffd4j.Userfaultfd;
import io.github.uffd4j.handler.LazySegment;

import java.lang.foreign.ValueLayout;

/**
 * What the container tests run inside a container, besides the suite: prints one line per
 * creation path ("DEVICE ok" or "DEVICE refused: message"), then whether a fault is served.
 */
public final class ContainerProbe {

    private ContainerProbe() {
    }

    public static void main(String[] args) {
        for (CreationPath path : CreationPath.values()) {
            try (Userfaultfd u = Userfaultfd.builder().creationPath(path).open()) {
                System.out.println(path + " ok");
            } catch (RuntimeException e) {
                System.out.println(path + " refused: " + e.getMessage());
            }
        }
        try (LazySegment data = LazySegment.open(1 << 20, (offset, dst) -> dst.fill((byte) 7))) {
            System.out.println("SERVED " + data.getByte(12345) + " " + data.segment().get(ValueLayout.JAVA_BYTE, 12345));
        } catch (RuntimeException e) {
            System.out.println("NOT SERVED: " + e.getMessage());
        }
    }
}
