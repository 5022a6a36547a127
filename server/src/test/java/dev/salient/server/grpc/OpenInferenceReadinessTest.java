package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.inference.grpc.GRPCInferenceServiceClient;
import dev.salient.inference.grpc.ModelReadyRequest;
import dev.salient.inference.grpc.ServerLiveRequest;
import dev.salient.inference.grpc.ServerReadyRequest;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.junit.jupiter.api.Test;

/**
 * The Open Inference Protocol's readiness follows the server's health: a server that starts to
 * drain answers ServerReady and ModelReady false, while ServerLive stays true, on the
 * connections it still has.
 */
class OpenInferenceReadinessTest {

  private static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  @Test
  void serverReady_turnsFalseAsSoonAsTheDrainStartsWhileServerLiveStaysTrue() throws Exception {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.shutdown-timeout = 2s\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "pekko.coordinated-shutdown.phases.service-requests-done.timeout = 10s")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> serverSystem = ActorSystem.create(Behaviors.empty(), "oip-ready", config);
    SalientServer server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "oip-ready-client");
    GRPCInferenceServiceClient inference = GRPCInferenceServiceClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
    try {
      // Connected now: once the drain starts the port takes no new connections.
      assertTrue(await(inference.serverReady(ServerReadyRequest.getDefaultInstance())).getReady());
      // A request that runs through the drain period keeps the server draining meanwhile.
      var running = ExplainerServiceTest.longRequest();
      var explainer = dev.salient.grpc.ExplainerClient.create(GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false), clientSystem);
      var events = explainer.explain(running)
          .runWith(org.apache.pekko.stream.javadsl.Sink.queue(), clientSystem);
      assertTrue(await(events.pull()).orElseThrow().hasStarted());

      CompletableFuture<Void> closed = CompletableFuture.runAsync(server::close);
      boolean ready = true;
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (ready && System.nanoTime() < end) {
        ready = await(inference.serverReady(ServerReadyRequest.getDefaultInstance())).getReady();
        if (ready) {
          // The drain starts on another thread: poll, bounded by the 5 s above.
          Thread.sleep(10);
        }
      }

      assertFalse(ready, "ServerReady is false once the drain starts");
      assertFalse(await(inference.modelReady(ModelReadyRequest.newBuilder()
          .setName("fashion-mnist").build())).getReady());
      assertTrue(await(inference.serverLive(ServerLiveRequest.getDefaultInstance())).getLive());
      closed.orTimeout(30, TimeUnit.SECONDS).join();
      explainer.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    } finally {
      inference.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      clientSystem.terminate();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .join();
    }
  }
}
