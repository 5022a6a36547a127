package dev.salient.server.grpc;

import dev.salient.server.util.SalientException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The decode boundary's answer to running out of heap: the request fails with
 * RESOURCE_EXHAUSTED and the error is logged once, instead of reaching Pekko, which exits the
 * JVM on an OutOfMemoryError thrown in an actor or stream stage
 * ({@code pekko.jvm-exit-on-fatal-error}), or being reported to the client as bad data.
 */
final class OutOfMemoryGuard {
  private static final Logger log = LoggerFactory.getLogger(OutOfMemoryGuard.class);

  private OutOfMemoryGuard() {}

  /** The result of {@code work}, which decodes {@code what}; an OutOfMemoryError is refused. */
  static <T> T decoding(String what, Supplier<T> work) {
    try {
      return work.get();
    } catch (OutOfMemoryError e) {
      log.warn("out of memory decoding {}; the request is refused with RESOURCE_EXHAUSTED. "
          + "Lower salient.limits.decode-budget or give the JVM more heap (-Xmx)", what, e);
      throw new SalientException.CapacityExceeded("the server ran out of memory decoding this "
          + what + "; retry later, or send a smaller image", e);
    }
  }
}
