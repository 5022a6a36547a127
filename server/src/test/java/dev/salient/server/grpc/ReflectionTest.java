package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.reflection.v1alpha.ServerReflectionGrpc;
import io.grpc.reflection.v1alpha.ServerReflectionRequest;
import io.grpc.reflection.v1alpha.ServerReflectionResponse;
import io.grpc.reflection.v1alpha.ServiceResponse;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Server reflection answers a plain grpc-java client the way grpcurl asks it. */
class ReflectionTest {
  static ActorSystem<Void> system;
  static SalientServer server;
  static ManagedChannel channel;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0").withFallback(ConfigFactory.load());
    system = ActorSystem.create(Behaviors.empty(), "reflection", config);
    server = SalientServer.start(system, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", server.address().getPort())
        .usePlaintext().build();
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
    system.terminate();
  }

  @Test
  void listServicesNamesTheExplainerAndHealth() throws Exception {
    CompletableFuture<ServerReflectionResponse> answer = new CompletableFuture<>();
    StreamObserver<ServerReflectionRequest> requests = ServerReflectionGrpc.newStub(channel)
        .serverReflectionInfo(new StreamObserver<>() {
          @Override
          public void onNext(ServerReflectionResponse r) {
            answer.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            answer.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    requests.onNext(ServerReflectionRequest.newBuilder().setListServices("*").build());

    List<String> names = answer.get(10, TimeUnit.SECONDS).getListServicesResponse()
        .getServiceList().stream().map(ServiceResponse::getName).toList();
    requests.onCompleted();

    assertTrue(names.contains("salient.v1.Explainer"), names.toString());
    assertTrue(names.contains("grpc.health.v1.Health"), names.toString());
  }
}
