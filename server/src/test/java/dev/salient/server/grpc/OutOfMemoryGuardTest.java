package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

/** Running out of heap while decoding fails the request, not the JVM, and is not "bad data". */
class OutOfMemoryGuardTest {

  @Test
  void anOutOfMemoryErrorWhileDecodingBecomesResourceExhausted() {
    OutOfMemoryError oom = new OutOfMemoryError("Java heap space");

    var refused = assertThrows(SalientException.CapacityExceeded.class,
        () -> OutOfMemoryGuard.decoding("image", () -> {
          throw oom;
        }));

    Status status = GrpcErrors.status(refused);
    assertEquals(Status.Code.RESOURCE_EXHAUSTED, status.getCode());
    assertTrue(status.getDescription().startsWith("the server ran out of memory decoding this "
        + "image"), status.getDescription());
    assertSame(oom, refused.getCause());
  }

  @Test
  void otherFailuresPassThroughUnchanged() {
    var bad = new SalientException.InvalidArgument("image bytes are empty");

    var thrown = assertThrows(SalientException.InvalidArgument.class,
        () -> OutOfMemoryGuard.decoding("image", () -> {
          throw bad;
        }));

    assertSame(bad, thrown);
  }
}
