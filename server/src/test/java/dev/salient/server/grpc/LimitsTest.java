package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The limits of salient.limits end to end: a real server on loopback and the generated client.
 * Over a limit a request fails with RESOURCE_EXHAUSTED naming the key, and the server goes on.
 */
class LimitsTest {
  private ActorSystem<Void> serverSystem;
  private ActorSystem<Void> clientSystem;
  private SalientServer server;
  private ExplainerClient client;

  private void start(String conf) {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n" + conf)
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "limits", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "limits-client", config);
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
  }

  @AfterEach
  void stop() {
    if (client != null) {
      client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
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

  private static ClassifyRequest classify(byte[] encoded) {
    return ClassifyRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(encoded))).build();
  }

  private static Status statusOf(CompletionStage<?> call) {
    try {
      call.toCompletableFuture().get(120, TimeUnit.SECONDS);
      return Status.OK;
    } catch (Exception e) {
      return Status.fromThrowable(e);
    }
  }

  @Test
  void aMessageOverTheDefaultLimitIsRefusedAndTheServerStillAnswers() {
    start("");
    byte[] fiveMebibytes = new byte[5 * 1024 * 1024];
    new Random(21).nextBytes(fiveMebibytes);

    Status refused = statusOf(client.classify(classify(fiveMebibytes)));
    ClassifyResponse answer = client.classify(classify(TestImages.bytes(0)))
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().contains("over the server's limit of 4194304 bytes "
        + "(salient.limits.max-message-size)"), refused.getDescription());
    assertTrue(answer.getTopCount() > 0);
  }

  @Test
  void anOversizeFrameEndsAVideoStreamWithResourceExhausted() {
    start("");
    byte[] fiveMebibytes = new byte[5 * 1024 * 1024];
    List<VideoFrame> messages = List.of(
        VideoFrame.newBuilder().setSession(VideoSession.newBuilder().setMethod("vanilla")).build(),
        VideoFrame.newBuilder().setSequence(1).setImage(Image.newBuilder()
            .setEncoded(ByteString.copyFrom(fiveMebibytes))).build());

    Status refused = statusOf(client.explainVideo(Source.from(messages))
        .runWith(Sink.seq(), clientSystem));

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().contains("salient.limits.max-message-size"),
        refused.getDescription());
  }

  @Test
  void sixteenLargeImagesAtOnceNeverDecodeMoreThanTheBudget() throws Exception {
    start("salient.limits.decode-budget = 64MiB\nsalient.limits.decode-budget-wait = 60s");
    // 3000x3000 RGB: 27 MB of pixels each, about 80 KB on the wire; two fit in the budget.
    byte[] large = png(3000, 3000);
    long pixelBytes = 3000L * 3000 * 3;

    List<CompletableFuture<Status>> calls = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      calls.add(CompletableFuture.supplyAsync(() -> statusOf(client.classify(classify(large)))));
    }

    for (CompletableFuture<Status> call : calls) {
      Status status = call.get(180, TimeUnit.SECONDS);
      assertTrue(status.isOk() || status.getCode() == Status.Code.RESOURCE_EXHAUSTED
          && status.getDescription().startsWith("decode budget exhausted"), status.toString());
    }
    long peak = server.decodeBudget().peakBytesInUse();
    assertTrue(peak <= 64L * 1024 * 1024, "peak " + peak + " within the budget");
    assertTrue(peak >= pixelBytes, "peak " + peak + " counts at least one image");
    assertEquals(0, server.decodeBudget().bytesInUse());
  }

  @Test
  void anImageLargerThanTheWholeDecodeBudgetIsRefusedNamingTheKey() throws Exception {
    start("salient.limits.decode-budget = 8MiB");

    Status refused = statusOf(client.classify(classify(png(2000, 2000))));

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().contains("more than the server's whole decode budget"),
        refused.getDescription());
    assertTrue(refused.getDescription().contains("salient.limits.decode-budget"),
        refused.getDescription());
  }

  @Test
  void anImageOverTheConfiguredPixelLimitIsRefusedNamingTheKey() {
    start("salient.limits.max-pixels = 700");

    // The samples are 28x28: 784 pixels.
    Status refused = statusOf(client.classify(classify(TestImages.bytes(0))));

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().contains(
        "image is 28x28 pixels (784 pixels), over the server's limit of 700 pixels"
            + " (salient.limits.max-pixels)"), refused.getDescription());
  }

  @Test
  void anIntegratedGradientsBaselineImageIsDecodedWithinTheDecodeBudget() throws Exception {
    start("salient.limits.decode-budget = 8MiB");
    // 2000x2000 RGB: 12 MB of pixels, more than the whole budget; the request's image is 28x28.
    String baseline = Base64.getEncoder().encodeToString(png(2000, 2000));

    Status refused = statusOf(client.explain(ExplainRequest.newBuilder().setMethod(
                "integrated_gradients")
            .putParams("baseline", "image").putParams("baseline_image", baseline)
            .putParams("steps", "2")
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
            .build())
        .runWith(Sink.ignore(), clientSystem));

    assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getCode(), refused.toString());
    assertTrue(refused.getDescription().contains("decoding this 2000x2000 PNG needs"),
        refused.getDescription());
    assertTrue(refused.getDescription().contains("salient.limits.decode-budget"),
        refused.getDescription());
  }

  /** A PNG of two flat halves: large in pixels, small on the wire. */
  private static byte[] png(int width, int height) throws Exception {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = image.createGraphics();
    g.setColor(Color.ORANGE);
    g.fillRect(0, 0, width / 2, height);
    g.dispose();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(image, "png", out);
    return out.toByteArray();
  }
}
