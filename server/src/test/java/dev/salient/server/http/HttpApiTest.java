package dev.salient.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/JSON API end to end: a real server on loopback, Java's HttpClient and WebSocket, and
 * the gRPC client for the answers HTTP must equal.
 */
class HttpApiTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient grpc;
  static HttpClient http;
  static String base;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
        + "salient.cpu-workers = 1\n"
        + "salient.scheduler.measure-best-batch = false").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "http", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    base = "http://127.0.0.1:" + server.httpAddress().orElseThrow().getPort();
    clientSystem = ActorSystem.create(Behaviors.empty(), "http-client");
    grpc = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  }

  @AfterAll
  static void stop() {
    grpc.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  static HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(base + path)).GET()
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(base + path))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static String sampleB64(int i) {
    return Base64.getEncoder().encodeToString(TestImages.bytes(i));
  }

  static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  /** The gRPC status of an Explain call, as HTTP must report it. */
  static Status grpcExplainStatus(ExplainRequest request) {
    try {
      await(grpc.explain(request).runWith(Sink.seq(), clientSystem));
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e.getCause() == null ? e : e.getCause());
    }
  }

  @Test
  void getModelsListsTheModelsAndGetModelDescribesOneAsReady() throws Exception {
    JsonNode list = JSON.readTree(get("/v1/models").body());
    HttpResponse<String> one = get("/v1/models/fashion-mnist");
    JsonNode described = JSON.readTree(one.body());

    assertEquals("fashion-mnist", list.get("models").get(0).asText());
    assertEquals(200, one.statusCode());
    assertEquals("fashion-mnist", described.get("name").asText());
    assertTrue(described.get("ready").asBoolean());
    assertEquals(10, described.get("model").get("labels").size());
    assertTrue(described.get("model").get("methods").size() >= 10);
  }

  @Test
  void predictAnswersWhatClassifyAnswersOverGrpc() throws Exception {
    HttpResponse<String> response = post("/v1/models/fashion-mnist:predict",
        "{\"instances\": [{\"b64\": \"" + sampleB64(3) + "\"}, {\"b64\": \"" + sampleB64(50)
            + "\"}], \"parameters\": {\"top_k\": 3}}");
    JsonNode predictions = JSON.readTree(response.body()).get("predictions");

    assertEquals(200, response.statusCode(), response.body());
    assertEquals(2, predictions.size());
    for (int i = 0; i < 2; i++) {
      ClassifyResponse expected = await(grpc.classify(ClassifyRequest.newBuilder().setTopK(3)
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(
              TestImages.bytes(i == 0 ? 3 : 50)))).build()));
      JsonNode top = predictions.get(i).get("top");
      assertEquals(3, top.size());
      for (int k = 0; k < 3; k++) {
        assertEquals(expected.getTop(k).getLabel(), top.get(k).get("label").asText());
        assertEquals(expected.getTop(k).getProbability(),
            top.get(k).get("probability").floatValue(), 1e-5);
      }
    }
  }

  @Test
  void predictTakesANestedArrayOfPixelsAsTheSameImage() throws Exception {
    float[] pixels = TestImages.sample(7);
    StringBuilder rows = new StringBuilder("[[");
    for (int y = 0; y < 28; y++) {
      rows.append(y == 0 ? "[" : ",[");
      for (int x = 0; x < 28; x++) {
        rows.append(x == 0 ? "" : ",").append(pixels[y * 28 + x]);
      }
      rows.append("]");
    }
    rows.append("]]");

    JsonNode fromArray = JSON.readTree(post("/v1/models/fashion-mnist:predict",
        "{\"instances\": [" + rows + "]}").body()).get("predictions").get(0).get("top");
    JsonNode fromPng = JSON.readTree(post("/v1/models/fashion-mnist:predict",
        "{\"instances\": [{\"b64\": \"" + sampleB64(7) + "\"}]}").body())
        .get("predictions").get(0).get("top");

    assertEquals(fromPng.get(0).get("label"), fromArray.get(0).get("label"));
    assertEquals(fromPng.get(0).get("probability").floatValue(),
        fromArray.get(0).get("probability").floatValue(), 1e-5);
  }

  @Test
  void explainAnswersTheStartedAndResultEventsWithMapsAsBase64Float32() throws Exception {
    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain",
        "{\"instances\": [{\"b64\": \"" + sampleB64(0) + "\"}], \"method\": \"vanilla\", "
            + "\"render_png\": true}");
    JsonNode body = JSON.readTree(response.body());
    JsonNode map = body.get("result").get("maps").get(0);

    assertEquals(200, response.statusCode(), response.body());
    assertEquals("vanilla", body.get("started").get("method").asText());
    assertEquals("[\"28\",\"28\"]", map.get("tensor").get("shape").toString());
    assertEquals(28 * 28 * 4, Base64.getDecoder().decode(map.get("tensor").get("data").asText())
        .length);
    byte[] png = Base64.getDecoder().decode(map.get("overlay_png").asText());
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
  }

  @Test
  void explainStreamSendsEveryEventAsAServerSentEvent() throws Exception {
    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain?stream=true",
        "{\"image\": {\"encoded\": \"" + sampleB64(0) + "\"}, \"method\": \"nonlinear\", "
            + "\"params\": {\"steps_per_level\": 2}, \"omit_snapshots\": true}");
    List<String> names = new ArrayList<>();
    JsonNode result = null;
    for (String block : response.body().split("\n\n")) {
      String[] lines = block.split("\n");
      names.add(lines[0].substring("event: ".length()));
      JsonNode data = JSON.readTree(lines[1].substring("data: ".length()));
      if (data.has("result")) {
        result = data.get("result");
      }
    }

    assertEquals(200, response.statusCode());
    assertTrue(response.headers().firstValue("content-type").orElse("")
        .startsWith("text/event-stream"));
    assertEquals("started", names.get(0));
    assertEquals("result", names.get(names.size() - 1));
    long frames = names.stream().filter("frame"::equals).count();
    assertEquals(result.get("steps").asLong() + 1, frames, "a frame per step and the start");
  }

  @Test
  void closingTheEventStreamCancelsTheExplanation() throws Exception {
    long cancelledBefore = await(grpc.stats(StatsRequest.getDefaultInstance())).getCancelled();
    HttpResponse<InputStream> response = http.send(HttpRequest.newBuilder(
            URI.create(base + "/v1/models/fashion-mnist:explain?stream=true"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"instances\": [{\"b64\": \""
            + sampleB64(0) + "\"}], \"method\": \"nonlinear\", \"params\": "
            + "{\"steps_per_level\": 500}, \"omit_snapshots\": true}"))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofInputStream());
    BufferedReader events = new BufferedReader(new InputStreamReader(response.body(),
        StandardCharsets.UTF_8));
    assertEquals("event: started", events.readLine());
    events.close();

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    long cancelled = cancelledBefore;
    while (cancelled == cancelledBefore && System.nanoTime() < deadline) {
      // Bounded poll: the cancellation reaches the worker asynchronously.
      Thread.sleep(50);
      cancelled = await(grpc.stats(StatsRequest.getDefaultInstance())).getCancelled();
    }
    assertEquals(cancelledBefore + 1, cancelled, "the request was cancelled, not run to its end");
  }

  @Test
  void badJsonIsA400() throws Exception {
    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain", "{\"method\": ");
    JsonNode body = JSON.readTree(response.body());

    assertEquals(400, response.statusCode());
    assertEquals("INVALID_ARGUMENT", body.get("code").asText());
    assertTrue(body.get("error").asText().startsWith("bad JSON"), body.toString());
  }

  @Test
  void anUnknownFieldIsA400NamingIt() throws Exception {
    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain",
        "{\"method\": \"vanilla\", \"colour\": \"red\"}");

    assertEquals(400, response.statusCode());
    assertTrue(response.body().contains("colour"), response.body());
  }

  @Test
  void aBadImageIsA400WithGrpcsMessage() throws Exception {
    byte[] notAnImage = "not an image".getBytes();
    Status grpcStatus = grpcExplainStatus(ExplainRequest.newBuilder().setMethod("vanilla")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(notAnImage))).build());

    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain",
        "{\"instances\": [{\"b64\": \"" + Base64.getEncoder().encodeToString(notAnImage)
            + "\"}], \"method\": \"vanilla\"}");
    JsonNode body = JSON.readTree(response.body());

    assertEquals(Status.Code.INVALID_ARGUMENT, grpcStatus.getCode());
    assertEquals(400, response.statusCode());
    assertEquals(grpcStatus.getDescription(), body.get("error").asText());
  }

  @Test
  void anUnknownParameterValueIsA400BeforeTheStreamStarts() throws Exception {
    Status grpcStatus = grpcExplainStatus(ExplainRequest.newBuilder().setMethod("nonlinear")
        .putParams("mode", "sideways")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .build());

    HttpResponse<String> response = post("/v1/models/fashion-mnist:explain?stream=true",
        "{\"instances\": [{\"b64\": \"" + sampleB64(0) + "\"}], \"method\": \"nonlinear\", "
            + "\"params\": {\"mode\": \"sideways\"}}");

    assertEquals(400, response.statusCode());
    assertEquals(grpcStatus.getDescription(), JSON.readTree(response.body()).get("error")
        .asText());
  }

  @Test
  void theApiAnswersInHttp11EvenToAClientThatOffersAnUpgradeToHttp2() throws Exception {
    assertEquals(HttpClient.Version.HTTP_2, http.version(), "the test's client offers h2c");

    assertEquals(HttpClient.Version.HTTP_1_1, get("/v1/models/fashion-mnist").version());
  }

  @Test
  void anUnknownModelIsA404() throws Exception {
    HttpResponse<String> response = post("/v1/models/no-such-model:predict",
        "{\"instances\": [{\"b64\": \"" + sampleB64(0) + "\"}]}");

    assertEquals(404, response.statusCode());
    assertEquals("NOT_FOUND", JSON.readTree(response.body()).get("code").asText());
  }

  @Test
  void anUnknownPathIsA404ListingTheApi() throws Exception {
    HttpResponse<String> response = get("/v2/anything");

    assertEquals(404, response.statusCode());
    assertTrue(response.body().contains(":explain"), response.body());
  }

  @Test
  void theWrongMethodIsA405() throws Exception {
    HttpResponse<String> response = get("/v1/models/fashion-mnist:explain");

    assertEquals(405, response.statusCode());
  }

  @Test
  void theViewerIsServedAndNothingOutsideIt() throws Exception {
    HttpResponse<String> page = get("/viewer/");
    HttpResponse<String> script = get("/viewer/viewer.js");
    HttpResponse<String> escape = get("/viewer/../reference.conf");

    assertEquals(200, page.statusCode());
    assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
    assertTrue(page.body().contains("Salient viewer"));
    assertEquals(200, script.statusCode());
    assertEquals(404, escape.statusCode());
  }

  @Test
  void videoOverAWebSocketAnswersEveryFrameInOrder() throws Exception {
    LinkedBlockingQueue<String> answers = new LinkedBlockingQueue<>();
    WebSocket socket = http.newWebSocketBuilder().buildAsync(
        URI.create(base.replace("http:", "ws:") + "/v1/video"), new WebSocket.Listener() {
          private final StringBuilder partial = new StringBuilder();

          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
              answers.add(partial.toString());
              partial.setLength(0);
            }
            ws.request(1);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
    socket.sendText("{\"method\": \"vanilla\", \"drop_policy\": \"NEVER_DROP\"}", true)
        .get(10, TimeUnit.SECONDS);
    for (int i = 0; i < 5; i++) {
      socket.sendBinary(ByteBuffer.wrap(TestImages.bytes(i)), true).get(10, TimeUnit.SECONDS);
    }

    List<JsonNode> got = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      String answer = answers.poll(60, TimeUnit.SECONDS);
      assertTrue(answer != null, "answer " + (i + 1) + " of 5");
      got.add(JSON.readTree(answer));
    }
    socket.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(10, TimeUnit.SECONDS);

    for (int i = 0; i < 5; i++) {
      assertEquals(i + 1, got.get(i).get("sequence").asLong(), got.get(i).toString());
      assertTrue(got.get(i).has("explained"), got.get(i).toString());
      JsonNode map = got.get(i).get("explained").get("maps").get(0).get("tensor");
      assertEquals(28 * 28 * 4, Base64.getDecoder().decode(map.get("data").asText()).length);
    }
  }

  @Test
  void videoWithABadSessionAnswersTheErrorAndCloses() throws Exception {
    CompletableFuture<String> error = new CompletableFuture<>();
    CompletableFuture<Integer> closed = new CompletableFuture<>();
    WebSocket socket = http.newWebSocketBuilder().buildAsync(
        URI.create(base.replace("http:", "ws:") + "/v1/video"), new WebSocket.Listener() {
          @Override
          public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            error.complete(data.toString());
            ws.request(1);
            return null;
          }

          @Override
          public CompletionStage<?> onClose(WebSocket ws, int status, String reason) {
            closed.complete(status);
            return null;
          }
        }).get(10, TimeUnit.SECONDS);
    socket.sendText("{\"method\": \"occlusion\"}", true).get(10, TimeUnit.SECONDS);

    JsonNode body = JSON.readTree(error.get(30, TimeUnit.SECONDS));
    assertEquals("INVALID_ARGUMENT", body.get("code").asText());
    assertTrue(body.get("error").asText().contains("occlusion"), body.toString());
    closed.get(30, TimeUnit.SECONDS);
  }
}
