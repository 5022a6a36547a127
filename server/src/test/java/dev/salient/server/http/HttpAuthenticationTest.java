package dev.salient.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.auth.Tokens;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP API asks for the bearer tokens gRPC asks for, with the same messages. */
class HttpAuthenticationTest {
  private static final String ALICE = Tokens.mint();
  private static final String BOB = Tokens.mint();
  @TempDir
  static Path dir;
  static ActorSystem<Void> serverSystem;
  static SalientServer server;
  static String base;
  static HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws Exception {
    Path tokens = dir.resolve("tokens");
    Files.writeString(tokens, "alice " + Tokens.hash(ALICE) + "\n"
        + "bob " + Tokens.hash(BOB) + " models=some-other-model\n");
    Config config = ConfigFactory.parseString("salient.port = 0\n"
        + "salient.cpu-workers = 1\n"
        + "salient.scheduler.measure-best-batch = false\n"
        + "salient.auth.tokens-file = \"" + tokens + "\"").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "http-auth", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    base = "http://127.0.0.1:" + server.httpAddress().orElseThrow().getPort();
  }

  @AfterAll
  static void stop() {
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static HttpResponse<String> get(String path, String token) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + path))
        .timeout(Duration.ofSeconds(30));
    if (token != null) {
      request.header("authorization", "Bearer " + token);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void withoutATokenTheApiAnswers401AskingForABearerToken() throws Exception {
    HttpResponse<String> response = get("/v1/models", null);

    assertEquals(401, response.statusCode());
    assertEquals("Bearer", response.headers().firstValue("www-authenticate").orElse(""));
    assertTrue(response.body().contains("missing bearer token"), response.body());
  }

  @Test
  void anUnknownTokenIs401() throws Exception {
    assertEquals(401, get("/v1/models", Tokens.mint()).statusCode());
  }

  @Test
  void aKnownTokenIsLetIn() throws Exception {
    assertEquals(200, get("/v1/models/fashion-mnist", ALICE).statusCode());
  }

  @Test
  void aTokenWithoutTheModelIs403() throws Exception {
    HttpResponse<String> response = get("/v1/models/fashion-mnist", BOB);

    assertEquals(403, response.statusCode());
    assertTrue(response.body().contains("PERMISSION_DENIED"), response.body());
  }

  @Test
  void theViewersFilesNeedNoToken() throws Exception {
    assertEquals(200, get("/viewer/", null).statusCode());
  }

  @Test
  void aWebSocketCarriesItsTokenAsAQueryParameter() throws Exception {
    WebSocket.Listener quiet = new WebSocket.Listener() {
      @Override
      public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        ws.request(1);
        return null;
      }
    };
    WebSocket socket = http.newWebSocketBuilder()
        .buildAsync(URI.create(base.replace("http:", "ws:") + "/v1/video?access_token=" + ALICE),
            quiet)
        .get(10, TimeUnit.SECONDS);
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);

    CompletableFuture<WebSocket> refused = http.newWebSocketBuilder()
        .buildAsync(URI.create(base.replace("http:", "ws:") + "/v1/video"), quiet);
    ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
        ExecutionException.class, () -> refused.get(10, TimeUnit.SECONDS));
    assertEquals(401, ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode());
  }
}
