package dev.salient.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.google.protobuf.ByteString;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Target;
import dev.salient.grpc.WorkerNodeStats;
import dev.salient.grpc.WorkerStats;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.BatchTolerance;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * A cluster of three JVMs on loopback, each started as {@code ./salient serve} is: one gateway
 * and two worker nodes. Requests through the gateway run on both workers and give a single
 * node's answers; a worker killed with SIGKILL costs only the requests it held, which end with
 * UNAVAILABLE naming it; the others go on, and a restarted node takes work again.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterProcessTest {
  private static final Duration START = Duration.ofSeconds(120);
  private static final List<String> METHODS = List.of("vanilla", "nonlinear", "geosal",
      "smoothgrad");

  static int seedPort;
  static NodeProcess gateway;
  static NodeProcess workerA;
  static NodeProcess workerB;
  static String addressB;
  static ActorSystem<Void> clientSystem;
  static ExplainerClient client;

  @BeforeAll
  static void startCluster() throws InterruptedException {
    seedPort = NodeProcess.freePort();
    String seed = "127.0.0.1:" + seedPort;
    gateway = NodeProcess.start("gateway", "--port", "0", "--roles", "gateway",
        "--cluster-port", Integer.toString(seedPort));
    workerA = NodeProcess.start("worker-a", "--roles", "worker", "--seed-nodes", seed);
    workerB = NodeProcess.start("worker-b", "--roles", "worker", "--seed-nodes", seed);
    int port = Integer.parseInt(
        gateway.await("Salient listening on [^:]+:(\\d+)", START));
    workerA.await("Salient worker node (pekko://\\S+)", START);
    addressB = workerB.await("Salient worker node (pekko://\\S+)", START);
    clientSystem = ActorSystem.create(Behaviors.empty(), "cluster-test-client");
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", port, clientSystem).withTls(false), clientSystem);
    awaitWorkerNodes(2);
  }

  @AfterAll
  static void stopCluster() throws InterruptedException {
    if (client != null) {
      client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      clientSystem.terminate();
    }
    // One at a time: the others see each one leave.
    for (NodeProcess node : new NodeProcess[] {workerB, workerA, gateway}) {
      if (node != null) {
        node.close();
      }
    }
  }

  @Test
  @Order(1)
  void mixedRequestsThroughTheGatewayRunOnBothWorkersAndEqualASingleNodesAnswers()
      throws InterruptedException {
    Map<String, Result> single = singleNodeResults();
    List<ExplainRequest> requests = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      requests.add(request(METHODS.get(i % METHODS.size())));
    }
    List<List<ExplainEvent>> answers = await(Source.from(requests)
        .mapAsync(16, r -> client.explain(r).runWith(Sink.seq(), clientSystem))
        .runWith(Sink.seq(), clientSystem), Duration.ofMinutes(5));

    ModelPackage model = ModelCatalog.embeddedDefault().defaultModel();
    for (int i = 0; i < answers.size(); i++) {
      String method = requests.get(i).getMethod();
      Result result = answers.get(i).get(answers.get(i).size() - 1).getResult();
      assertAgree(method, MethodRegistry.standard().lookup(method, model).batchTolerance(),
          single.get(method), result);
    }
    StatsResponse stats = await(client.stats(StatsRequest.getDefaultInstance()),
        Duration.ofSeconds(10));
    List<WorkerNodeStats> nodes = stats.getCluster().getWorkerNodesList();
    assertEquals(2, nodes.size(), stats.getCluster().toString());
    for (WorkerNodeStats node : nodes) {
      assertTrue(node.getWorkersList().stream().mapToLong(WorkerStats::getEngineCalls).sum() > 0,
          "worker node " + node.getAddress() + " took no work: " + stats.getCluster());
    }
  }

  @Test
  @Order(2)
  void aKilledWorkerEndsOnlyItsRequestsWithUnavailableAndARestartedOneTakesWorkAgain()
      throws InterruptedException {
    List<CompletableFuture<Outcome>> running = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      // A few thousand BIM steps too small to flip the class: seconds of work each.
      ExplainRequest bim = request("bim").toBuilder().putParams("alpha", "0.000001")
          .putParams("max_iterations", "3000").setTarget(Target.newBuilder().setRank(2))
          .setFrameStride(100000).build();
      running.add(outcome(client.explain(bim).runWith(Sink.seq(), clientSystem)));
    }
    awaitActiveJobsOnBothNodes();
    long killedAt = System.nanoTime();
    workerB.kill();

    int unavailable = 0;
    for (CompletableFuture<Outcome> future : running) {
      Outcome outcome = future.orTimeout(3, TimeUnit.MINUTES).join();
      if (outcome.status() == null) {
        continue;
      }
      unavailable++;
      assertEquals(Status.Code.UNAVAILABLE, outcome.status().getCode(), outcome.toString());
      assertTrue(outcome.status().getDescription().contains(addressB), outcome.toString());
      double seconds = (outcome.endedAt() - killedAt) / 1e9;
      assertTrue(seconds <= 15, "ended " + seconds + " s after the kill: " + outcome);
    }
    assertTrue(unavailable > 0 && unavailable < 20, unavailable + " of 20 ended UNAVAILABLE");

    List<ExplainRequest> next = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      next.add(request("vanilla"));
    }
    await(Source.from(next).mapAsync(16, r -> client.explain(r).runWith(Sink.seq(), clientSystem))
        .runWith(Sink.seq(), clientSystem), Duration.ofMinutes(2));

    workerB = NodeProcess.start("worker-b-again", "--roles", "worker", "--seed-nodes",
        "127.0.0.1:" + seedPort);
    addressB = workerB.await("Salient worker node (pekko://\\S+)", START);
    awaitWorkerNodes(2);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (engineCallsOf(addressB) == 0) {
      assertTrue(System.nanoTime() < deadline, "the restarted node took no work in 60 s");
      List<ExplainRequest> wave = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        wave.add(request("smoothgrad"));
      }
      await(Source.from(wave).mapAsync(16, r -> client.explain(r).runWith(Sink.seq(),
          clientSystem)).runWith(Sink.seq(), clientSystem), Duration.ofMinutes(2));
    }
  }

  private record Outcome(Status status, long endedAt) {}

  private static CompletableFuture<Outcome> outcome(CompletionStage<?> call) {
    return call.handle((ok, error) -> {
      long now = System.nanoTime();
      if (error == null) {
        return new Outcome(null, now);
      }
      Throwable e = error instanceof CompletionException && error.getCause() != null
          ? error.getCause() : error;
      Status status = e instanceof GrpcServiceException g ? g.status()
          : e instanceof StatusRuntimeException s ? s.getStatus() : Status.fromThrowable(e);
      return new Outcome(status, now);
    }).toCompletableFuture();
  }

  private static ExplainRequest request(String method) {
    return ExplainRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod(method).build();
  }

  private static float[] floats(SaliencyMap map) {
    float[] out = new float[map.getTensor().getData().size() / 4];
    map.getTensor().getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)
        .asFloatBuffer().get(out);
    return out;
  }

  /** The same requests' results on one node in this JVM, by method. */
  private static Map<String, Result> singleNodeResults() {
    Config config = ConfigFactory.parseString("salient.port = 0\nsalient.cpu-workers = 1\n"
        + "salient.scheduler.measure-best-batch = false").withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "single-node", config);
    SalientServer server = SalientServer.start(system, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    try {
      ExplainerClient single = ExplainerClient.create(GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false), clientSystem);
      Map<String, Result> results = new HashMap<>();
      for (String method : METHODS) {
        List<ExplainEvent> events = await(single.explain(request(method))
            .runWith(Sink.seq(), clientSystem), Duration.ofSeconds(60));
        results.put(method, events.get(events.size() - 1).getResult());
      }
      single.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      return results;
    } finally {
      server.close();
      system.terminate();
    }
  }

  private static void assertAgree(String method, BatchTolerance tolerance, Result expected,
      Result actual) {
    assertEquals(expected.getMapsCount(), actual.getMapsCount(), method);
    for (int m = 0; m < expected.getMapsCount(); m++) {
      SaliencyMap e = expected.getMaps(m);
      SaliencyMap a = actual.getMaps(m);
      assertEquals(e.getName(), a.getName(), method);
      assertTrue(tolerance.mapsAgree(e.getName(), floats(e), floats(a)),
          method + " map " + e.getName() + " differs beyond " + tolerance);
    }
    assertEquals(expected.getValuesMap().keySet(), actual.getValuesMap().keySet(), method);
    expected.getValuesMap().forEach((name, value) -> assertTrue(
        tolerance.valuesAgree(name, value, actual.getValuesMap().get(name)),
        method + " value " + name + ": " + value + " vs " + actual.getValuesMap().get(name)));
  }

  private static StatsResponse stats() {
    return await(client.stats(StatsRequest.getDefaultInstance()), Duration.ofSeconds(10));
  }

  private static void awaitWorkerNodes(int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      StatsResponse stats = stats();
      long up = stats.getCluster().getMembersList().stream()
          .filter(m -> m.getStatus().equals("Up") && m.getReachable()).count();
      if (stats.getCluster().getWorkerNodesCount() == count && up == count + 1) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, "no " + count + " worker nodes up in 60 s: "
          + stats.getCluster());
      TimeUnit.MILLISECONDS.sleep(200); // a bounded poll of the gateway's Stats
    }
  }

  private static void awaitActiveJobsOnBothNodes() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      List<WorkerNodeStats> nodes = stats().getCluster().getWorkerNodesList();
      if (nodes.size() == 2 && nodes.stream().allMatch(n -> n.getWorkersList().stream()
          .mapToInt(WorkerStats::getActiveJobs).sum() > 0)) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, "the long requests did not reach both nodes");
      TimeUnit.MILLISECONDS.sleep(100); // a bounded poll of the gateway's Stats
    }
  }

  private static long engineCallsOf(String address) {
    return stats().getCluster().getWorkerNodesList().stream()
        .filter(n -> n.getAddress().equals(address))
        .flatMap(n -> n.getWorkersList().stream()).mapToLong(WorkerStats::getEngineCalls).sum();
  }

  private static <T> T await(CompletionStage<T> stage, Duration timeout) {
    return stage.toCompletableFuture().orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).join();
  }
}
