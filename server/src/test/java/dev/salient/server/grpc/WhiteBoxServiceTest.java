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
import dev.salient.grpc.Image;
import dev.salient.grpc.MethodInfo;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.RandomWeights;
import dev.salient.server.engine.TestImages;
import dev.salient.server.engine.builtin.ResNet18;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The white-box methods through gRPC: listed and served for a model whose layers can be walked,
 * refused with INVALID_ARGUMENT naming what a TorchScript model lacks; on ResNet-18 only those
 * whose rules cover its layers.
 */
class WhiteBoxServiceTest {
  static final List<String> WHITE_BOX =
      List.of("rectgrad", "rectgrad_nobias", "deep_taylor", "visual_backprop");

  @TempDir static Path dir;
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient client;

  @BeforeAll
  static void start() throws IOException {
    InputSpec in = new InputSpec(3, 224, 224, 0f, 1f, new float[] {0.485f, 0.456f, 0.406f},
        new float[] {0.229f, 0.224f, 0.225f});
    ModelPackage resnet = RandomWeights.writePackage(dir.resolve("resnet18"), "resnet18",
        ResNet18.ID, in, IntStream.range(0, 1000).mapToObj(i -> "class" + i).toList(), 18);
    Config config = ConfigFactory.parseString("salient.port = 0")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "server", config);
    ModelCatalog catalog = new ModelCatalog(List.of(
        ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE),
        ModelPackage.read(Path.of("src/test/resources/models/tiny-torchscript")), resnet));
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
  void describeModelListsTheWhiteBoxMethodsForTheDefaultModelOnly() {
    List<String> fashion = methodsOf("fashion-mnist");
    List<String> torchScript = methodsOf("tiny-torchscript");

    assertTrue(fashion.containsAll(WHITE_BOX), fashion.toString());
    for (String name : WHITE_BOX) {
      assertFalse(torchScript.contains(name), torchScript.toString());
    }
    assertTrue(torchScript.contains("lime") && torchScript.contains("vanilla"));
  }

  @Test
  void explain_whiteBoxMethodOnATorchScriptModelIsInvalidArgumentNamingWhatItLacks() {
    for (String method : WHITE_BOX) {
      ExplainRequest request = ExplainRequest.newBuilder().setModel("tiny-torchscript")
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
          .setMethod(method).build();

      var error = assertThrows(Exception.class, () -> explain(request));

      Status status = Status.fromThrowable(error);
      assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode(), method);
      assertTrue(status.getDescription().contains("cannot explain model tiny-torchscript")
          && status.getDescription().contains("TorchScript model whose model.json declares its"),
          status.getDescription());
    }
  }

  @Test
  void eachWhiteBoxMethodStreamsAFramePerStepAndEndsWithItsMap() {
    for (String method : WHITE_BOX) {
      List<ExplainEvent> events = explain(ExplainRequest.newBuilder()
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(5))))
          .setMethod(method).build());

      long frames = events.stream().filter(ExplainEvent::hasFrame).count();
      ExplainEvent last = events.get(events.size() - 1);
      assertEquals(method.equals("visual_backprop") ? 2 : 10, frames, method);
      assertTrue(last.hasResult(), method);
      assertEquals(method.startsWith("rectgrad") || method.equals("deep_taylor")
          ? method : "visual_backprop", last.getResult().getMaps(0).getName());
      assertEquals(List.of(28L, 28L), last.getResult().getMaps(0).getTensor().getShapeList());
    }
  }

  @Test
  void describeModelListsForResNet18TheWhiteBoxMethodsWhoseRulesCoverItsLayers() {
    List<String> resnet = methodsOf("resnet18");

    assertEquals(List.of("rectgrad", "rectgrad_nobias", "visual_backprop"),
        WHITE_BOX.stream().filter(resnet::contains).toList());
  }

  @Test
  void explain_deepTaylorOnResNet18IsInvalidArgumentNamingTheLayersItHasNoRuleFor() {
    ExplainRequest request = ExplainRequest.newBuilder().setModel("resnet18")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod("deep_taylor").build();

    var error = assertThrows(Exception.class, () -> explain(request));

    Status status = Status.fromThrowable(error);
    assertEquals(Status.Code.INVALID_ARGUMENT, status.getCode());
    assertTrue(status.getDescription().contains("cannot explain model resnet18")
        && status.getDescription().contains("has batch_norm, add, avg_pool layers, which "
            + "deep_taylor has no rule for"), status.getDescription());
  }

  @Test
  void rectgradOnResNet18EndsWithAMapOfItsInputSize() {
    List<ExplainEvent> events = explain(ExplainRequest.newBuilder().setModel("resnet18")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(5))))
        .setMethod("rectgrad").build());

    ExplainEvent last = events.get(events.size() - 1);
    assertTrue(last.hasResult());
    assertEquals(69, events.stream().filter(ExplainEvent::hasFrame).count());
    assertEquals(List.of(224L, 224L), last.getResult().getMaps(0).getTensor().getShapeList());
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
