package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Image;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.video.VideoSessions;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.grpc.javadsl.MetadataBuilder;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** When an Explain request reaches the supervisor: once its image is decoded, if anyone waits. */
class ExplainSubmitTest {
  static ActorTestKit testKit;
  static ModelCatalog catalog;

  TestProbe<ExplainSupervisor.Command> supervisor;
  /** Completed by the test: decoding waits for it. */
  CompletableFuture<Void> decodingAllowed;
  ExplainerService service;

  @BeforeAll
  static void start() {
    testKit = ActorTestKit.create();
    catalog = ModelCatalog.embeddedDefault();
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void newService() {
    supervisor = testKit.createTestProbe();
    decodingAllowed = new CompletableFuture<>();
    Executor decoder = task -> decodingAllowed.thenRun(task);
    service = new ExplainerService(catalog, MethodRegistry.standard(), supervisor.ref(),
        testKit.<VideoSessions.Command>createTestProbe().ref(), new SchedulerMetrics(new SimpleMeterRegistry()), testKit.system(), decoder, 16, 2,
        dev.salient.server.engine.DecodeBudget.unlimited(), AccessLog.OFF);
  }

  private static ExplainRequest vanilla() {
    return ExplainRequest.newBuilder().setMethod("vanilla")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .build();
  }

  @Test
  void aDecodedRequestGoesToTheSupervisorWithItsStream() {
    service.explain(vanilla(), MetadataBuilder.empty()).runWith(Sink.ignore(), testKit.system());
    supervisor.expectNoMessage(Duration.ofMillis(200));

    decodingAllowed.complete(null);

    ExplainSupervisor.Submit submit = supervisor.expectMessageClass(ExplainSupervisor.Submit.class);
    assertEquals("vanilla", submit.order().method());
  }

  @Test
  void aRequestWhoseClientLeftBeforeItsImageWasDecodedIsNotSubmitted() throws Exception {
    service.explain(vanilla(), MetadataBuilder.empty())
        .watchTermination(Keep.right())
        .to(Sink.cancelled())
        .run(testKit.system())
        .toCompletableFuture().get(5, TimeUnit.SECONDS);
    // The cancel reaches the response stream's own sink a moment after this stage hears of it;
    // nothing can be submitted meanwhile, as the image is not decoded yet.
    supervisor.expectNoMessage(Duration.ofMillis(200));

    decodingAllowed.complete(null);

    supervisor.expectNoMessage(Duration.ofMillis(300));
  }
}
