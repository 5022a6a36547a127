package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A server that stops drains: health turns NOT_SERVING at once, new requests are refused with
 * UNAVAILABLE, running ones get the drain period and, if still running at its end, a status.
 * Each test stops its own server on loopback, seen through the generated clients.
 */
class DrainTest {
  private static final Duration DRAIN_PERIOD = Duration.ofSeconds(2);
  private static final HealthCheckRequest WHOLE_SERVER = HealthCheckRequest.getDefaultInstance();

  ActorSystem<Void> serverSystem;
  ActorSystem<Void> clientSystem;
  SalientServer server;
  ExplainerClient client;
  HealthClient health;
  CompletableFuture<Void> closed;

  @BeforeEach
  void start() {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.shutdown-timeout = " + DRAIN_PERIOD.toMillis() + "ms\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "pekko.coordinated-shutdown.phases.service-requests-done.timeout = 10s")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "draining-server", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "client", config);
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false);
    client = ExplainerClient.create(settings, clientSystem);
    health = HealthClient.create(settings, clientSystem);
    // Both clients connect now: once the drain starts the port takes no new connections.
    assertEquals(ServingStatus.SERVING, check());
    await(client.classify(classifyRequest()));
  }

  @AfterEach
  void stop() {
    if (closed == null) {
      server.close();
    } else {
      closed.orTimeout(30, TimeUnit.SECONDS).join();
    }
    client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    health.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static ClassifyRequest classifyRequest() {
    return ClassifyRequest.newBuilder().setImage(ExplainerServiceTest.vanillaRequest().getImage())
        .build();
  }

  /** BIM steps too small to flip the prediction: runs its {@code iterations} steps. */
  private static ExplainRequest bim(int iterations) {
    return ExplainerServiceTest.longRequest().toBuilder()
        .putParams("max_iterations", Integer.toString(iterations)).setFrameStride(1000).build();
  }

  /** Starts {@code request} and waits for its first event: it is running on a worker. */
  private SinkQueueWithCancel<ExplainEvent> running(ExplainRequest request) {
    SinkQueueWithCancel<ExplainEvent> events =
        client.explain(request).runWith(Sink.queue(), clientSystem);
    assertTrue(await(events.pull()).orElseThrow().hasStarted());
    return events;
  }

  private void beginDrain() {
    closed = CompletableFuture.runAsync(server::close);
  }

  private ServingStatus check() {
    return await(health.check(WHOLE_SERVER)).getStatus();
  }

  private void awaitNotServing() throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (check() != ServingStatus.NOT_SERVING && System.nanoTime() < end) {
      Thread.sleep(10);
    }
  }

  /** The events after the first, until the stream ends; its failure as it reaches the client. */
  private static List<ExplainEvent> rest(SinkQueueWithCancel<ExplainEvent> events) {
    List<ExplainEvent> out = new java.util.ArrayList<>();
    for (Optional<ExplainEvent> e = await(events.pull()); e.isPresent();
        e = await(events.pull())) {
      out.add(e.get());
    }
    return out;
  }

  private static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  private static Status statusOf(Throwable error) {
    return Status.fromThrowable(error.getCause() != null ? error.getCause() : error);
  }

  @Test
  void healthCheck_isNotServingAsSoonAsTheDrainStarts() throws Exception {
    running(bim(10_000));

    long start = System.nanoTime();
    beginDrain();
    awaitNotServing();

    assertEquals(ServingStatus.NOT_SERVING, check());
    assertTrue(System.nanoTime() - start < DRAIN_PERIOD.toNanos() / 2,
        "NOT_SERVING well before the drain period ends");
  }

  @Test
  void healthWatch_hearsNotServingAsSoonAsTheDrainStarts() {
    SinkQueueWithCancel<HealthCheckResponse> statuses =
        health.watch(WHOLE_SERVER).runWith(Sink.queue(), clientSystem);
    assertEquals(ServingStatus.SERVING, await(statuses.pull()).orElseThrow().getStatus());
    running(bim(10_000));

    beginDrain();

    assertEquals(ServingStatus.NOT_SERVING, statuses.pull().toCompletableFuture()
        .orTimeout(DRAIN_PERIOD.toMillis() / 2, TimeUnit.MILLISECONDS).join().orElseThrow()
        .getStatus());
  }

  @Test
  void classify_duringTheDrainIsRefusedWithUnavailable() throws Exception {
    running(bim(10_000));
    beginDrain();
    awaitNotServing();

    Throwable error = assertThrows(Exception.class, () -> await(client.classify(classifyRequest())));

    Status status = statusOf(error);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertEquals(SalientException.ShuttingDown.REFUSED, status.getDescription());
  }

  @Test
  void explain_stillRunningWhenTheDrainPeriodEndsGetsUnavailableFromTheServer() {
    SinkQueueWithCancel<ExplainEvent> events = running(bim(10_000));

    long start = System.nanoTime();
    beginDrain();
    Throwable error = assertThrows(Exception.class, () -> rest(events));
    long tookNanos = System.nanoTime() - start;

    Status status = statusOf(error);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertEquals(SalientException.ShuttingDown.CUT_OFF, status.getDescription(),
        "the server's status, not a dropped connection");
    assertTrue(tookNanos >= DRAIN_PERIOD.minusMillis(100).toNanos(),
        "the request had the drain period: " + tookNanos / 1_000_000 + " ms");
  }

  @Test
  void explain_thatFinishesWithinTheDrainPeriodCompletes() {
    SinkQueueWithCancel<ExplainEvent> events = running(bim(300));

    beginDrain();
    List<ExplainEvent> rest = rest(events);

    assertTrue(rest.get(rest.size() - 1).hasResult(), "ends with its result");
  }

  @Test
  void explainVideo_stillOpenWhenTheDrainPeriodEndsGetsUnavailableFromTheServer() {
    Source<VideoFrame, NotUsed> frames = Source.single(VideoFrame.newBuilder()
            .setSession(VideoSession.newBuilder().setMethod("vanilla")).build())
        .concat(Source.single(ExplainVideoTest.frame(1)))
        .concat(Source.<VideoFrame>maybe().mapMaterializedValue(p -> NotUsed.getInstance()));
    SinkQueueWithCancel<FrameExplanation> answers =
        client.explainVideo(frames).runWith(Sink.queue(), clientSystem);
    assertEquals(1, await(answers.pull()).orElseThrow().getSequence());

    beginDrain();
    Throwable error = assertThrows(Exception.class, () -> await(answers.pull()));

    Status status = statusOf(error);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertEquals(SalientException.ShuttingDown.CUT_OFF, status.getDescription());
  }

  @Test
  void coordinatedShutdown_drainsAsCloseDoes() {
    SinkQueueWithCancel<ExplainEvent> events = running(bim(10_000));

    closed = CoordinatedShutdown.get(serverSystem).runAll(CoordinatedShutdown.unknownReason())
        .thenAccept(done -> { }).toCompletableFuture();
    Throwable error = assertThrows(Exception.class, () -> rest(events));

    Status status = statusOf(error);
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertEquals(SalientException.ShuttingDown.CUT_OFF, status.getDescription());
  }
}
