package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.salient.inference.grpc.GRPCInferenceServiceClient;
import dev.salient.inference.grpc.InferTensorContents;
import dev.salient.inference.grpc.ModelInferRequest;
import dev.salient.inference.grpc.ModelInferRequest.InferInputTensor;
import dev.salient.inference.grpc.ModelMetadataRequest;
import dev.salient.inference.grpc.ServerLiveRequest;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.auth.Tokens;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.grpc.javadsl.SingleResponseRequestBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * salient.auth applies to the Open Inference Protocol as to Salient's own service: without a
 * token UNAUTHENTICATED, with a token limited to other models PERMISSION_DENIED, with a good
 * token answered; each call one access-log line.
 */
class OpenInferenceProtocolAuthTest {
  private static final String ALICE = Tokens.mint();
  private static final String BOB = Tokens.mint();

  @TempDir
  static Path dir;
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static GRPCInferenceServiceClient inference;

  @BeforeAll
  static void start() throws Exception {
    Path tokens = dir.resolve("tokens");
    Files.writeString(tokens, "alice " + Tokens.hash(ALICE) + "\n"
        + "bob " + Tokens.hash(BOB) + " models=resnet18\n");
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "salient.access-log = on\n"
            + "salient.auth.tokens-file = \"" + tokens + "\"\n")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "oip-auth", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "oip-auth-client");
    inference = GRPCInferenceServiceClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
  }

  @AfterAll
  static void stop() {
    inference.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static ModelInferRequest infer() {
    return ModelInferRequest.newBuilder().setModelName("fashion-mnist")
        .addInputs(InferInputTensor.newBuilder().setName("image").setDatatype("BYTES")
            .addShape(1).setContents(InferTensorContents.newBuilder()
                .addBytesContents(ByteString.copyFrom(TestImages.bytes(0)))))
        .build();
  }

  /** The status of {@code call} with {@code token} (null: no authorization header). */
  private static <Q, R> Status status(SingleResponseRequestBuilder<Q, R> call, String token,
      Q request) {
    var withToken = token == null ? call : call.addHeader("authorization", "Bearer " + token);
    try {
      await(withToken.invoke(request));
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e.getCause() != null ? e.getCause() : e);
    }
  }

  private static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  @Test
  void modelInfer_error_withoutATokenIsUnauthenticated() {
    assertEquals(Status.Code.UNAUTHENTICATED,
        status(inference.modelInfer(), null, infer()).getCode());
    assertEquals(Status.Code.UNAUTHENTICATED, status(inference.serverLive(), null,
        ServerLiveRequest.getDefaultInstance()).getCode());
  }

  @Test
  void modelInfer_withAGoodTokenIsAnswered() {
    assertEquals(Status.Code.OK, status(inference.modelInfer(), ALICE, infer()).getCode());
  }

  @Test
  void modelInfer_error_aTokenLimitedToOtherModelsIsPermissionDenied() {
    Status infer = status(inference.modelInfer(), BOB, infer());
    Status metadata = status(inference.modelMetadata(), BOB,
        ModelMetadataRequest.newBuilder().setName("fashion-mnist").build());

    assertEquals(Status.Code.PERMISSION_DENIED, infer.getCode());
    assertTrue(infer.getDescription().contains("resnet18"), infer.getDescription());
    assertEquals(Status.Code.PERMISSION_DENIED, metadata.getCode());
  }

  @Test
  void modelInfer_ofEightImagesIsOneAccessLogLine() {
    ModelInferRequest eight = infer().toBuilder().setInputs(0, infer().getInputs(0).toBuilder()
        .setShape(0, 8).setContents(InferTensorContents.newBuilder().addAllBytesContents(
            java.util.Collections.nCopies(8, ByteString.copyFrom(TestImages.bytes(0)))))).build();
    Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    access.addAppender(lines);
    try {
      assertEquals(Status.Code.OK, status(inference.modelInfer(), ALICE, eight).getCode());
    } finally {
      access.detachAppender(lines);
    }

    assertEquals(List.of("rpc=inference.GRPCInferenceService/ModelInfer model=fashion-mnist "
        + "method=- client=alice status=OK ms=N"), lines.list.stream()
        .map(ILoggingEvent::getFormattedMessage).map(m -> m.replaceFirst("ms=\\d+$", "ms=N"))
        .toList());
  }
}
