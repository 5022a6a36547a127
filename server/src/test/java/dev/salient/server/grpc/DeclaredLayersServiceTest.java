package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Tensor;
import dev.salient.grpc.Image;
import dev.salient.grpc.MethodInfo;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The white-box methods through gRPC on a TorchScript model whose model.json declares its layers:
 * listed by DescribeModel and served, with a frame per layer and the map at the input's size.
 */
class DeclaredLayersServiceTest {
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient client;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "server", config);
    ModelCatalog catalog = new ModelCatalog(List.of(
        ModelPackage.read(Path.of("src/test/resources/models/tiny-walkable")),
        ModelPackage.read(Path.of("src/test/resources/models/tiny-two-part"))));
    server = SalientServer.start(serverSystem, SalientSettings.create(config), catalog,
        MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "client", config);
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void describeModelListsTheWhiteBoxMethodsOnlyForTheExportThatDeclaresItsLayers() {
    List<String> declared = methodsOf("tiny-walkable");
    List<String> undeclared = methodsOf("tiny-two-part");

    assertTrue(declared.containsAll(WhiteBoxServiceTest.WHITE_BOX), declared.toString());
    for (String name : WhiteBoxServiceTest.WHITE_BOX) {
      assertFalse(undeclared.contains(name), undeclared.toString());
    }
  }

  @Test
  void eachWhiteBoxMethodStreamsAFramePerLayerAndEndsWithAMapOfTheInputsSize() {
    for (String method : WhiteBoxServiceTest.WHITE_BOX) {
      List<ExplainEvent> events = explain(ExplainRequest.newBuilder().setModel("tiny-walkable")
          .setImage(Image.newBuilder().setTensor(pixels()))
          .setMethod(method).build());

      long frames = events.stream().filter(ExplainEvent::hasFrame).count();
      ExplainEvent last = events.get(events.size() - 1);
      assertEquals(method.equals("visual_backprop") ? 1 : 4, frames, method);
      assertTrue(last.hasResult(), method);
      assertEquals(List.of(6L, 6L), last.getResult().getMaps(0).getTensor().getShapeList(),
          method);
    }
  }

  @Test
  void aWhiteBoxMethodOnAnExportWithoutDeclaredLayersSaysHowToDeclareThem() {
    ExplainRequest request = ExplainRequest.newBuilder().setModel("tiny-two-part")
        .setImage(Image.newBuilder().setTensor(pixels()))
        .setMethod("rectgrad").build();

    var error = assertThrows(Exception.class, () -> explain(request));

    Status status = Status.fromThrowable(error);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("declares its \"layers\""),
        status.getDescription());
  }

  private static Tensor pixels() {
    ByteBuffer data = ByteBuffer.allocate(36 * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int k = 0; k < 36; k++) {
      data.putFloat((float) Math.abs(Math.sin(k)));
    }
    return Tensor.newBuilder().addAllShape(List.of(1L, 6L, 6L))
        .setData(ByteString.copyFrom(data.array())).build();
  }

  private static List<String> methodsOf(String model) {
    return await(client.describeModel(DescribeModelRequest.newBuilder().setModel(model).build()))
        .getModel().getMethodsList().stream().map(MethodInfo::getName).toList();
  }

  private static List<ExplainEvent> explain(ExplainRequest request) {
    return await(client.explain(request).runWith(Sink.seq(), clientSystem));
  }

  private static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
