package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
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

  /**
   * Why the guard sits inside the decode future: a CompletableFuture on Pekko's blocking
   * dispatcher captures an OutOfMemoryError as its failure, so it never reaches the dispatcher's
   * fatal-error handling ({@code pekko.jvm-exit-on-fatal-error}); the system runs on.
   */
  @Test
  void anOutOfMemoryErrorInADecodeFutureOnTheBlockingDispatcherLeavesTheSystemRunning()
      throws Exception {
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "out-of-memory");
    try {
      Executor blocking = system.dispatchers().lookup(DispatcherSelector.blocking());

      CompletableFuture<Object> decode = CompletableFuture.supplyAsync(() -> {
        throw new OutOfMemoryError("Java heap space");
      }, blocking);

      var failure = assertThrows(ExecutionException.class, () -> decode.get(10, TimeUnit.SECONDS));
      assertTrue(failure.getCause() instanceof OutOfMemoryError);
      assertThrows(TimeoutException.class, () -> system.getWhenTerminated()
          .toCompletableFuture().get(500, TimeUnit.MILLISECONDS), "the actor system keeps running");
      assertEquals(42, CompletableFuture.supplyAsync(() -> 42, blocking).get(10, TimeUnit.SECONDS));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
