package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.DropPolicy;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.Image;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Tensor;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.LongStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ExplainVideo end to end: a real server on loopback and the generated client. */
class ExplainVideoTest {
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient client;

  @BeforeAll
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "server", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
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

  static VideoSession.Builder session(String method) {
    return VideoSession.newBuilder().setMethod(method);
  }

  static VideoFrame frame(long sequence) {
    return VideoFrame.newBuilder().setSequence(sequence).setCaptureTimeUs(sequence * 33_333)
        .setImage(Image.newBuilder().setEncoded(
            ByteString.copyFrom(TestImages.bytes((int) (sequence % 100)))))
        .build();
  }

  /** The session message, then the frames, then a half-close; all the answers. */
  static List<FrameExplanation> run(VideoSession.Builder session, List<VideoFrame> frames) {
    List<VideoFrame> messages = new ArrayList<>();
    messages.add(VideoFrame.newBuilder().setSession(session).build());
    messages.addAll(frames);
    return client.explainVideo(Source.from(messages)).runWith(Sink.seq(), clientSystem)
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  static List<VideoFrame> frames(long count) {
    return LongStream.rangeClosed(1, count).mapToObj(ExplainVideoTest::frame).toList();
  }

  static Status.Code failure(VideoSession.Builder session, List<VideoFrame> frames) {
    CompletionException e = assertThrows(CompletionException.class, () -> run(session, frames));
    return Status.fromThrowable(e.getCause()).getCode();
  }

  @Test
  void everyFrameIsAnsweredOnceInSequenceOrderThenTheStreamCompletes() {
    List<FrameExplanation> answers = run(session("vanilla"), frames(60));

    assertEquals(LongStream.rangeClosed(1, 60).boxed().toList(),
        answers.stream().map(FrameExplanation::getSequence).toList());
    long explained = answers.stream().filter(FrameExplanation::hasExplained).count();
    long dropped = answers.stream().filter(FrameExplanation::hasDropped).count();
    assertEquals(60, explained + dropped, "frames_out + dropped = frames_in");
    assertTrue(explained >= 1, "frames are explained");
    assertTrue(answers.get(59).hasExplained(), "the last frame is never superseded");
  }

  @Test
  void framesSentFasterThanTheServerExplainsAreDroppedCountedAndStillAnsweredInOrder() {
    List<FrameExplanation> answers = run(session("smoothgrad").putParams("samples", "256")
        .putParams("batch", "256").setMaxInFlight(1), frames(40));

    assertEquals(LongStream.rangeClosed(1, 40).boxed().toList(),
        answers.stream().map(FrameExplanation::getSequence).toList());
    long dropped = answers.stream().filter(FrameExplanation::hasDropped).count();
    assertTrue(dropped > 0, "a slow method drops frames");
    assertTrue(answers.stream().filter(FrameExplanation::hasDropped)
        .allMatch(a -> a.getDropped().getReason().equals("superseded")), "dropped as superseded");
    assertTrue(answers.get(0).hasExplained() && answers.get(39).hasExplained(),
        "the first frame and the last are explained");
  }

  @Test
  void statsCountTheSessionsAndWhatBecameOfTheirFrames() throws Exception {
    var before = stats().getVideo();

    List<FrameExplanation> answers = run(session("vanilla"), frames(20));

    long explained = answers.stream().filter(FrameExplanation::hasExplained).count();
    var after = stats().getVideo();
    assertEquals(before.getSessionsOpened() + 1, after.getSessionsOpened());
    assertEquals(before.getFramesExplained() + explained, after.getFramesExplained());
    assertEquals(before.getFramesSuperseded() + 20 - explained, after.getFramesSuperseded());
    awaitStats(s -> s.getVideo().getSessionsActive() == 0);
    assertEquals(0, stats().getVideo().getSessionsActive(), "the ended session is closed");
  }

  @Test
  void anExplainedFrameCarriesTheMapOfTheSameImageExplainedAlone() {
    List<FrameExplanation> answers =
        run(session("vanilla").setDropPolicy(DropPolicy.NEVER_DROP), frames(5));

    for (FrameExplanation a : answers) {
      assertTrue(a.hasExplained(), "never-drop explains every frame");
      assertEquals(a.getSequence() * 33_333, a.getCaptureTimeUs());
      var events = client.explain(ExplainRequest.newBuilder()
              .setImage(frame(a.getSequence()).getImage()).setMethod("vanilla").build())
          .runWith(Sink.seq(), clientSystem).toCompletableFuture()
          .orTimeout(30, TimeUnit.SECONDS).join();
      var alone = events.get(events.size() - 1).getResult();
      float[] expected = floats(map(alone.getMapsList(), "saliency"));
      float[] got = floats(map(a.getExplained().getMapsList(), "saliency"));
      for (int i = 0; i < expected.length; i++) {
        assertEquals(expected[i], got[i], 1e-5 + 1e-4 * Math.abs(expected[i]), "pixel " + i);
      }
      assertEquals(alone.getValuesMap().keySet(), a.getExplained().getValuesMap().keySet());
      alone.getValuesMap().forEach((name, value) -> assertEquals(value,
          a.getExplained().getValuesMap().get(name), 1e-5 + 1e-5 * Math.abs(value), name));
    }
  }

  @Test
  void aRawTensorFrameIsAnsweredLikeTheSameImageEncoded() {
    var input = ModelCatalog.embeddedDefault().defaultModel().input();
    float[] pixels = ImageDecoder.decode(TestImages.bytes(3), input);
    ByteBuffer bytes = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bytes.asFloatBuffer().put(pixels);
    VideoFrame tensorFrame = VideoFrame.newBuilder().setSequence(3).setImage(Image.newBuilder()
        .setTensor(Tensor.newBuilder().addShape(1).addShape(28).addShape(28)
            .setData(ByteString.copyFrom(bytes.array())))).build();
    VideoSession.Builder session = session("vanilla").setDropPolicy(DropPolicy.NEVER_DROP);

    var fromTensor = run(session, List.of(tensorFrame)).get(0).getExplained();
    var fromPng = run(session, List.of(frame(3))).get(0).getExplained();

    assertEquals(fromPng.getPredicted(), fromTensor.getPredicted());
    float[] expected = floats(map(fromPng.getMapsList(), "saliency"));
    float[] got = floats(map(fromTensor.getMapsList(), "saliency"));
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], got[i], 1e-6 + 1e-5 * Math.abs(expected[i]), "pixel " + i);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"signed", "gradcam", "smoothgrad"})
  void theOtherPerFrameMethodsAnswerWithTheirMaps(String method) {
    List<FrameExplanation> answers = run(session(method).setRenderPng(true)
        .setDropPolicy(DropPolicy.NEVER_DROP), frames(3));

    assertEquals(3, answers.size());
    for (FrameExplanation a : answers) {
      assertFalse(a.getExplained().getMapsList().isEmpty(), method + " sends maps");
      assertFalse(a.getExplained().getMaps(0).getOverlayPng().isEmpty(), "overlay rendered");
    }
  }

  @Test
  void aSessionWithoutFramesCompletesWithNoAnswers() {
    assertEquals(List.of(), run(session("vanilla"), List.of()));
  }

  /** Slow frames: SmoothGrad with many samples takes a while per frame. */
  static List<VideoFrame> slowSession(int frames) {
    List<VideoFrame> messages = new ArrayList<>();
    messages.add(VideoFrame.newBuilder().setSession(session("smoothgrad")
        .putParams("samples", "2048").putParams("batch", "256").setMaxInFlight(2)).build());
    messages.addAll(frames(frames));
    return messages;
  }

  static StatsResponse stats() {
    return client.stats(StatsRequest.getDefaultInstance()).toCompletableFuture()
        .orTimeout(5, TimeUnit.SECONDS).join();
  }

  /** Polls Stats until {@code done} holds or 10 s pass; the caller asserts afterwards. */
  static void awaitStats(Predicate<StatsResponse> done) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.test(stats()) && System.nanoTime() < end) {
      Thread.sleep(20);
    }
  }

  static void awaitNoActiveJobs() throws InterruptedException {
    awaitStats(s -> ExplainerServiceTest.activeJobs(s) == 0);
  }

  @Test
  void aClientThatCancelsFreesTheFramesInFlight() throws Exception {
    awaitNoActiveJobs();
    long cancelledBefore = stats().getCancelled();

    List<FrameExplanation> first = client.explainVideo(Source.from(slowSession(1000))).take(1)
        .runWith(Sink.seq(), clientSystem).toCompletableFuture()
        .orTimeout(30, TimeUnit.SECONDS).join();

    assertEquals(1, first.size());
    awaitNoActiveJobs();
    assertEquals(0, ExplainerServiceTest.activeJobs(stats()), "the workers let the frames go");
    assertTrue(stats().getCancelled() > cancelledBefore, "the frame in flight was cancelled");
  }

  @Test
  void theStreamDeadlineEndsItWithDeadlineExceeded() throws Exception {
    ExplainerClient hurried = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false).withDeadline(Duration.ofMillis(300)), clientSystem);
    try {
      CompletionException e = assertThrows(CompletionException.class, () ->
          hurried.explainVideo(Source.from(slowSession(1000))).runWith(Sink.seq(), clientSystem)
              .toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join());
      assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(e.getCause()).getCode());
    } finally {
      hurried.close();
    }
    awaitNoActiveJobs();
  }

  @Test
  void theFirstMessageMustOpenTheSession() {
    assertEquals(Status.Code.INVALID_ARGUMENT,
        Status.fromThrowable(assertThrows(CompletionException.class, () ->
            client.explainVideo(Source.from(frames(2))).runWith(Sink.seq(), clientSystem)
                .toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join()).getCause())
            .getCode());
  }

  @Test
  void aMethodNotOfferedForVideoIsInvalidArgument() {
    assertEquals(Status.Code.INVALID_ARGUMENT, failure(session("geosal"), frames(1)));
  }

  @Test
  void anUnknownModelIsNotFound() {
    assertEquals(Status.Code.NOT_FOUND, failure(session("vanilla").setModel("nope"), frames(1)));
  }

  @Test
  void smoothingOutOfRangeIsInvalidArgument() {
    assertEquals(Status.Code.INVALID_ARGUMENT,
        failure(session("vanilla").setSmoothing(1.5f), frames(1)));
  }

  @Test
  void aSequenceNumberGoingBackwardsIsInvalidArgument() {
    assertEquals(Status.Code.INVALID_ARGUMENT,
        failure(session("vanilla"), List.of(frame(2), frame(1))));
  }

  @Test
  void aFrameThatIsNotAnImageIsInvalidArgument() {
    VideoFrame corrupt = VideoFrame.newBuilder().setSequence(1).setImage(
        Image.newBuilder().setEncoded(ByteString.copyFromUtf8("not an image"))).build();

    assertEquals(Status.Code.INVALID_ARGUMENT, failure(session("vanilla"), List.of(corrupt)));
  }

  @Test
  void aSecondSessionMessageIsInvalidArgument() {
    VideoFrame again = frame(2).toBuilder().setSession(session("vanilla")).build();

    assertEquals(Status.Code.INVALID_ARGUMENT,
        failure(session("vanilla"), List.of(frame(1), again)));
  }

  static SaliencyMap map(List<SaliencyMap> maps, String name) {
    return maps.stream().filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
  }

  static float[] floats(SaliencyMap map) {
    Tensor t = map.getTensor();
    float[] out = new float[t.getData().size() / 4];
    ByteBuffer.wrap(t.getData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
        .get(out);
    return out;
  }
}
