package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** GET /metrics on the metrics port: the server's meters in Prometheus' text format. */
class MetricsEndpointTest {
  static ActorSystem<Void> system;
  static SalientServer server;
  static ExplainerClient client;
  static final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString(
            "salient.port = 0\nsalient.metrics-port = 0\nsalient.cpu-workers = 1")
        .withFallback(ConfigFactory.load());
    system = ActorSystem.create(Behaviors.empty(), "metrics-endpoint", config);
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

  private static HttpResponse<String> send(String method, String path) throws Exception {
    InetSocketAddress address = server.metricsAddress().orElseThrow();
    HttpRequest request = HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + address.getPort() + path))
        .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(10))
        .build();
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  /** The value of the sample line that starts with {@code series} (name and labels). */
  private static OptionalDouble sample(String text, String series) {
    return Arrays.stream(text.split("\n")).filter(line -> line.startsWith(series + " "))
        .mapToDouble(line -> Double.parseDouble(line.substring(series.length() + 1).trim()))
        .findFirst();
  }

  @Test
  void aRequestIsCountedInTheSchedulerAndWorkerMeters() throws Exception {
    String before = send("GET", "/metrics").body();
    ExplainRequest request = ExplainRequest.newBuilder().setMethod("vanilla")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .build();
    client.explain(request).runWith(Sink.ignore(), system).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    HttpResponse<String> after = send("GET", "/metrics");

    assertEquals(200, after.statusCode());
    assertTrue(after.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    String text = after.body();
    assertEquals(1.0, sample(text, "salient_jobs_admitted_total").orElseThrow()
        - sample(before, "salient_jobs_admitted_total").orElseThrow());
    String images = "salient_worker_images_total{device=\"cpu\",worker=\"cpu-0\"}";
    // vanilla is one pass of one image: the prediction and the gradient together
    assertEquals(1.0, sample(text, images).orElseThrow() - sample(before, images).orElseThrow());
    String calls = "salient_worker_pass_latency_seconds_count{device=\"cpu\",worker=\"cpu-0\"}";
    assertEquals(1.0, sample(text, calls).orElseThrow() - sample(before, calls).orElseThrow());
    assertTrue(text.contains("salient_worker_batch_size_bucket{device=\"cpu\",worker=\"cpu-0\","
        + "le=\"1.0\"}"), text);
  }

  @Test
  void completedRequestsAreCountedOnceTheirStreamEnds() throws Exception {
    String series = "salient_jobs_ended_total{outcome=\"completed\"}";
    double before = sample(send("GET", "/metrics").body(), series).orElseThrow();
    ExplainRequest request = ExplainRequest.newBuilder().setMethod("signed")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(1))))
        .build();
    client.explain(request).runWith(Sink.ignore(), system).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    // The supervisor counts the end from a message of its own: poll briefly, bounded.
    double after = before;
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (after < before + 1 && System.nanoTime() < giveUp) {
      after = sample(send("GET", "/metrics").body(), series).orElseThrow();
      if (after < before + 1) {
        Thread.sleep(20);
      }
    }
    assertEquals(before + 1, after);
  }

  @Test
  void residentMemoryAndTheJvmAreMetered() throws Exception {
    String text = send("GET", "/metrics").body();
    assertTrue(sample(text, "salient_process_resident_memory_bytes").orElseThrow() > 0);
    assertTrue(text.contains("jvm_memory_used_bytes{"), "JVM memory meters");
    assertTrue(text.contains("jvm_threads_live_threads "), "JVM thread meters");
  }

  @Test
  void otherPathsAreNotFoundAndOtherMethodsNotAllowed() throws Exception {
    HttpResponse<String> elsewhere = send("GET", "/");
    assertEquals(404, elsewhere.statusCode());
    assertTrue(elsewhere.body().contains("/metrics"), elsewhere.body());
    assertEquals(405, send("POST", "/metrics").statusCode());
  }

  @Test
  void withTheMetricsPortOffNothingIsServed() {
    Config config = ConfigFactory.parseString("salient.port = 0\nsalient.cpu-workers = 1")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> other = ActorSystem.create(Behaviors.empty(), "metrics-off", config);
    try (SalientServer plain = SalientServer.start(other, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard())) {
      assertFalse(plain.metricsAddress().isPresent());
    } finally {
      other.terminate();
    }
  }

  @Test
  void aTakenMetricsPortFailsTheStartNamingTheSetting() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1,
        java.net.InetAddress.getByName("127.0.0.1"))) {
      Config config = ConfigFactory.parseString("salient.port = 0\nsalient.cpu-workers = 1\n"
              + "salient.metrics-port = " + taken.getLocalPort())
          .withFallback(ConfigFactory.load());
      ActorSystem<Void> other = ActorSystem.create(Behaviors.empty(), "metrics-taken", config);
      try {
        IllegalStateException e = assertThrows(IllegalStateException.class,
            () -> SalientServer.start(other, SalientSettings.create(config),
                ModelCatalog.embeddedDefault(), MethodRegistry.standard()));
        assertTrue(e.getMessage().contains("metrics-port"), e.getMessage());
      } finally {
        other.terminate();
      }
    }
  }
}
