package dev.salient.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.Result;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SalientClientTest {

  private static FakeServer server;
  private static ActorSystem<Void> clientSystem;
  private static SalientClient client;

  @BeforeAll
  static void start() throws Exception {
    server = FakeServer.start();
    clientSystem = ActorSystem.create(Behaviors.empty(), "client-test");
    client = SalientClient.connect("127.0.0.1", server.port(), clientSystem);
  }

  @AfterAll
  static void stop() throws Exception {
    client.close();
    clientSystem.terminate();
    clientSystem.getWhenTerminated().toCompletableFuture().get(10, TimeUnit.SECONDS);
    server.close();
  }

  @BeforeEach
  void reset() {
    server.explainer.reset();
  }

  private static <T> T get(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void withTokenEveryCallCarriesTheBearerHeader() throws Exception {
    server.authorizations.clear();
    SalientClient withToken = SalientClient.create(SalientClient.withToken(
        GrpcClientSettings.connectToServiceAt("127.0.0.1", server.port(), clientSystem)
            .withTls(false), "s3cret"), clientSystem);
    try {
      get(withToken.listModels());
      get(withToken.listModels(Duration.ofSeconds(5)));
    } finally {
      withToken.close();
    }

    assertEquals(List.of("Bearer s3cret", "Bearer s3cret"), server.authorizations);
  }

  @Test
  void listModels() throws Exception {
    assertEquals(
        ListModelsResponse.newBuilder().addModels(FakeData.model()).build(),
        get(client.listModels()));
  }

  @Test
  void describeModelWithDeadline() throws Exception {
    DescribeModelRequest request =
        DescribeModelRequest.newBuilder().setModel("fashion-mnist").build();

    assertEquals(
        FakeData.model(), get(client.describeModel(request, Duration.ofSeconds(5))).getModel());
    assertEquals(request, server.explainer.lastDescribe.get());
  }

  @Test
  void classify() throws Exception {
    ClassifyRequest request = ClassifyRequest.newBuilder().setTopK(2).build();

    assertEquals(FakeData.classification(), get(client.classify(request)));
    assertEquals(request, server.explainer.lastClassify.get());
  }

  @Test
  void explainSourceStreamsEveryEvent() throws Exception {
    List<ExplainEvent> events =
        get(client.explain(ExplainRequest.getDefaultInstance()).runWith(Sink.seq(), clientSystem));

    assertEquals(FakeData.events(), events);
  }

  @Test
  void explainListenerSeesEventsInOrderAndResultCompletes() throws Exception {
    // setup
    List<ExplainEvent> seen = new CopyOnWriteArrayList<>();
    ExplainRequest request = ExplainRequest.newBuilder().setMethod("vanilla").build();

    // run
    Result result = get(client.explain(request, seen::add));

    // verify
    assertEquals(FakeData.events(), seen);
    assertEquals(FakeData.events().get(3).getResult(), result);
    assertEquals(request, server.explainer.lastExplain.get());
  }

  @Test
  void explain_error() {
    server.explainer.failure.set(Status.INVALID_ARGUMENT.withDescription("unknown method foo"));

    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> get(client.explain(ExplainRequest.getDefaultInstance(), event -> {})));

    Status status = Status.fromThrowable(e.getCause());
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertEquals("unknown method foo", status.getDescription());
  }

  @Test
  void explainDeadline_error() {
    server.explainer.events.set(null);

    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () ->
                get(
                    client.explain(
                        ExplainRequest.getDefaultInstance(), Duration.ofMillis(300), event -> {})));

    assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(e.getCause()).getCode());
  }

  @Test
  void explainWithoutResult_error() {
    server.explainer.events.set(FakeData.events().subList(0, 2));

    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> get(client.explain(ExplainRequest.getDefaultInstance(), event -> {})));

    assertEquals(Status.Code.INTERNAL, Status.fromThrowable(e.getCause()).getCode());
  }

  @Test
  void explainListenerFailure_error() {
    IllegalStateException boom = new IllegalStateException("listener failed");

    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () ->
                get(
                    client.explain(
                        ExplainRequest.getDefaultInstance(),
                        event -> {
                          throw boom;
                        })));

    assertSame(boom, e.getCause());
  }

  @Test
  void clientWithItsOwnSystemStopsItOnClose() throws Exception {
    try (SalientClient owning = SalientClient.connect("127.0.0.1", server.port())) {
      assertEquals(1, get(owning.listModels()).getModelsCount());
    }

    assertEquals(List.of(), Threads.lingering("salient-client-"));
  }
}
