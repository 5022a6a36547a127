package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.auth.Tokens;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * salient.auth end to end: a real server on loopback with a tokens file, the generated clients
 * sending (or not) {@code authorization: Bearer <token>}.
 */
class AuthenticationTest {
  private static final String ALICE = Tokens.mint();
  private static final String BOB = Tokens.mint();

  @TempDir
  Path dir;
  private Path tokensFile;
  private ActorSystem<Void> serverSystem;
  private ActorSystem<Void> clientSystem;
  private SalientServer server;
  private ExplainerClient explainer;
  private HealthClient health;

  /** Starts a server with a tokens file of {@code tokens} (null: none) and {@code more} config. */
  private void startServer(String tokens, String more) throws Exception {
    tokensFile = dir.resolve("tokens");
    if (tokens != null) {
      Files.writeString(tokensFile, tokens);
    }
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "salient.auth.reload-interval = 50ms\n"
            + "salient.auth.tokens-file = \"" + (tokens == null ? "" : tokensFile) + "\"\n"
            + more)
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "auth", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "auth-client");
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false);
    explainer = ExplainerClient.create(settings, clientSystem);
    health = HealthClient.create(settings, clientSystem);
  }

  private static String line(String name, String token) {
    return name + " " + Tokens.hash(token) + "\n";
  }

  /** The status of a classify call with {@code token} (null: no authorization header). */
  private Status classify(String token) {
    var call = explainer.classify();
    if (token != null) {
      call = call.addHeader("authorization", "Bearer " + token);
    }
    return invoke(call);
  }

  private static Status invoke(
      org.apache.pekko.grpc.javadsl.SingleResponseRequestBuilder<ClassifyRequest, ?> call) {
    try {
      call.invoke(ClassifyRequest.newBuilder()
              .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
              .build())
          .toCompletableFuture().get(60, TimeUnit.SECONDS);
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e);
    }
  }

  @AfterEach
  void stop() {
    for (var client : List.of(explainer, health)) {
      if (client != null) {
        client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      }
    }
    if (clientSystem != null) {
      clientSystem.terminate();
    }
    if (server != null) {
      server.close();
    }
    if (serverSystem != null) {
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .join();
    }
  }

  @Test
  void aKnownTokenIsAccepted() throws Exception {
    startServer(line("alice", ALICE), "");

    assertEquals(Status.Code.OK, classify(ALICE).getCode());
  }

  @Test
  void aCallWithoutATokenIsUnauthenticatedAndToldHowToSendOne() throws Exception {
    startServer(line("alice", ALICE), "");

    Status refused = classify(null);

    assertEquals(Status.Code.UNAUTHENTICATED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().startsWith(
        "missing bearer token: send the header 'authorization: Bearer <token>'"), refused.toString());
  }

  @Test
  void anUnknownTokenIsUnauthenticated() throws Exception {
    startServer(line("alice", ALICE), "");

    Status refused = classify(BOB);

    assertEquals(Status.Code.UNAUTHENTICATED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().startsWith("unknown bearer token"), refused.toString());
  }

  @Test
  void aModelTheTokenDoesNotAllowIsPermissionDenied() throws Exception {
    startServer("alice " + Tokens.hash(ALICE) + " models=resnet18\n", "");
    String defaultModel = server.catalog().defaultModel().name();

    Status denied = classify(ALICE);

    assertEquals(Status.Code.PERMISSION_DENIED, denied.getCode(), denied.toString());
    assertTrue(denied.getDescription().startsWith("the token of alice does not allow model "
        + defaultModel + " (it allows [resnet18])"), denied.toString());
  }

  @Test
  void aTokenAddedToTheFileIsAcceptedWithoutARestart() throws Exception {
    startServer(line("alice", ALICE), "");
    assertEquals(Status.Code.UNAUTHENTICATED, classify(BOB).getCode());

    Files.writeString(tokensFile, line("alice", ALICE) + line("bob", BOB));
    // A later modification time, whatever the file system's clock granularity.
    Files.setLastModifiedTime(tokensFile, FileTime.from(Instant.now().plusSeconds(10)));

    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    Status status = classify(BOB);
    while (status.getCode() == Status.Code.UNAUTHENTICATED && System.nanoTime() < deadline) {
      // Bounded wait: ask again after a reload interval.
      status = CompletableFuture.supplyAsync(() -> classify(BOB),
          CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS)).join();
    }
    assertEquals(Status.Code.OK, status.getCode(), status.toString());
  }

  @Test
  void healthIsPublicWhileTheExplainerNeedsAToken() throws Exception {
    startServer(line("alice", ALICE), "");

    HealthCheckResponse answer = health.check(HealthCheckRequest.getDefaultInstance())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);

    assertEquals(HealthCheckResponse.ServingStatus.SERVING, answer.getStatus());
    assertEquals(Status.Code.UNAUTHENTICATED, classify(null).getCode());
  }

  @Test
  void withNoPublicServicesHealthNeedsAToken() throws Exception {
    startServer(line("alice", ALICE), "salient.auth.public-services = []\n");

    Status refused;
    try {
      health.check(HealthCheckRequest.getDefaultInstance()).toCompletableFuture()
          .get(10, TimeUnit.SECONDS);
      refused = Status.OK;
    } catch (Exception e) {
      refused = Status.fromThrowable(e);
    }

    assertEquals(Status.Code.UNAUTHENTICATED, refused.getCode(), refused.toString());
  }

  /** The access log's lines while {@code calls} run, durations as N. */
  private static List<String> accessLogOf(Runnable calls) {
    Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    access.addAppender(lines);
    try {
      calls.run();
      return lines.list.stream().map(ILoggingEvent::getFormattedMessage)
          .map(m -> m.replaceFirst("ms=\\d+$", "ms=N")).toList();
    } finally {
      access.detachAppender(lines);
    }
  }

  @Test
  void theAccessLogNamesTheCallTheTokenAndTheStatus() throws Exception {
    startServer(line("alice", ALICE), "salient.access-log = on\n");
    String defaultModel = server.catalog().defaultModel().name();

    List<String> lines = accessLogOf(() -> {
      assertEquals(Status.Code.OK, classify(ALICE).getCode());
      assertEquals(Status.Code.UNAUTHENTICATED, classify(null).getCode());
    });

    assertEquals(List.of(
        "rpc=salient.v1.Explainer/Classify model=" + defaultModel
            + " method=- client=alice status=OK ms=N",
        "rpc=salient.v1.Explainer/Classify model=- method=- client=127.0.0.1 "
            + "status=UNAUTHENTICATED ms=N"), lines);
  }

  @Test
  void theAccessLogNamesTheMethodOfAnExplanationStream() throws Exception {
    startServer(line("alice", ALICE), "salient.access-log = on\n");
    String defaultModel = server.catalog().defaultModel().name();

    List<String> lines = accessLogOf(() -> explainer.explain()
        .addHeader("authorization", "Bearer " + ALICE)
        .invoke(ExplainRequest.newBuilder().setMethod("vanilla")
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
            .build())
        .runWith(Sink.ignore(), clientSystem)
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join());

    assertEquals(List.of("rpc=salient.v1.Explainer/Explain model=" + defaultModel
        + " method=vanilla client=alice status=OK ms=N"), lines);
  }

  @Test
  void withoutTokensTheClientIsThePeersAddressWhateverTheCallClaims() throws Exception {
    startServer(null, "salient.access-log = on\n");
    String defaultModel = server.catalog().defaultModel().name();

    List<String> lines = accessLogOf(() -> assertEquals(Status.Code.OK,
        invoke(explainer.classify().addHeader(Authentication.CLIENT_HEADER, "mallory"))
            .getCode()));

    assertEquals(List.of("rpc=salient.v1.Explainer/Classify model=" + defaultModel
        + " method=- client=127.0.0.1 status=OK ms=N"), lines);
  }

  @Test
  void theAccessLogIsOffByDefault() throws Exception {
    startServer(line("alice", ALICE), "");

    List<String> lines = accessLogOf(() -> classify(ALICE));

    assertEquals(List.of(), lines);
  }
}
