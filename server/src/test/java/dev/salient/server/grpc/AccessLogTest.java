package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** How a response stream ended, as the access log reports it. */
class AccessLogTest {
  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  /** The code reported for {@code stream} run into {@code sink}. */
  private static Status.Code ending(Source<Integer, ?> stream, Sink<Integer, ?> sink) {
    CompletableFuture<Status.Code> code = new CompletableFuture<>();
    stream.via(new AccessLog.Ended<Integer>(code::complete)).runWith(sink, testKit.system());
    return code.orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void aStreamThatCompletesEndsOk() {
    assertEquals(Status.Code.OK, ending(Source.from(List.of(1, 2)), Sink.ignore()));
  }

  @Test
  void aStreamThatFailsEndsWithItsStatus() {
    assertEquals(Status.Code.NOT_FOUND, ending(
        Source.failed(new SalientException.NotFound("no model x")), Sink.ignore()));
  }

  @Test
  void aStreamTheClientLeavesEndsCancelled() {
    assertEquals(Status.Code.CANCELLED, ending(Source.repeat(1), Sink.head()));
  }
}
