package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Target;
import dev.salient.grpc.WorkerStats;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A CPU served by several workers: each has its own engine, and requests spread over them. */
class CpuWorkersTest {
  static ActorSystem<Void> system;
  static SalientServer server;
  static ExplainerClient client;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0\nsalient.cpu-workers = 2")
        .withFallback(ConfigFactory.load());
    system = ActorSystem.create(Behaviors.empty(), "cpu-workers", config);
    server = SalientServer.start(system, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), system)
        .withTls(false), system);
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    server.close();
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static StatsResponse stats() {
    return client.stats(StatsRequest.getDefaultInstance()).toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void theCpuGetsTheConfiguredNumberOfWorkers() {
    List<String> names = stats().getWorkersList().stream().map(WorkerStats::getName).toList();
    List<String> devices = stats().getWorkersList().stream().map(WorkerStats::getDevice).toList();
    assertEquals(List.of("cpu-0", "cpu-1"), names);
    assertEquals(List.of("cpu", "cpu"), devices);
  }

  @Test
  void concurrentRequestsAreSpreadOverTheWorkers() {
    StatsResponse before = stats();
    ExplainRequest request = ExplainRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod("bim").putParams("alpha", "0.000001").putParams("max_iterations", "20")
        .setTarget(Target.newBuilder().setRank(2)).build();
    List<CompletableFuture<?>> running = new java.util.ArrayList<>();
    for (int i = 0; i < 8; i++) {
      running.add(client.explain(request).runWith(Sink.ignore(), system).toCompletableFuture());
    }
    CompletableFuture.allOf(running.toArray(CompletableFuture[]::new))
        .orTimeout(60, TimeUnit.SECONDS).join();

    StatsResponse after = stats();
    for (int w = 0; w < 2; w++) {
      long images = after.getWorkers(w).getImages() - before.getWorkers(w).getImages();
      assertTrue(images > 0, "worker " + after.getWorkers(w).getName() + " took no passes: "
          + after);
    }
  }
}
