package dev.salient.server.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.ClassScore;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.video.FrameAnswer.Dropped;
import dev.salient.server.video.FrameAnswer.Explained;
import dev.salient.server.video.VideoSettings.DropPolicy;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The session actor against a supervisor probe that plays an artificially slow worker: jobs end
 * only when the test says so.
 */
class VideoSessionTest {
  static final ActorTestKit kit = ActorTestKit.create();
  static final ModelPackage MODEL = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
  static final Duration QUIET = Duration.ofMillis(200);
  static final SchedulerMetrics METRICS =
      new SchedulerMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());

  final TestProbe<ExplainSupervisor.Command> supervisor = kit.createTestProbe();
  final TestProbe<VideoSession.Output> output = kit.createTestProbe();
  ActorRef<VideoSession.Command> session;
  SourceQueueWithComplete<VideoInput> frames;

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  @AfterEach
  void stopSession() {
    if (session != null) {
      kit.stop(session);
    }
  }

  static VideoSettings settings(int maxInFlight, DropPolicy policy, double smoothing) {
    return VideoSettings.validate(MODEL, MethodRegistry.standard(), "vanilla", Map.of(),
        new TargetSpec.Predicted(), maxInFlight, 8, policy, smoothing, 3, false);
  }

  void open(VideoSettings settings, long deadlineNanos) {
    session = kit.spawn(VideoSession.create("test", settings, supervisor.ref(), Runnable::run,
        deadlineNanos, METRICS));
    Pair<SourceQueueWithComplete<VideoInput>, Source<VideoInput, org.apache.pekko.NotUsed>> q =
        Source.<VideoInput>queue(256, OverflowStrategy.backpressure()).preMaterialize(kit.system());
    frames = q.first();
    session.tell(new VideoSession.Start(output.ref(), q.second()));
  }

  void open(int maxInFlight, DropPolicy policy) {
    open(settings(maxInFlight, policy, 0), Long.MAX_VALUE);
  }

  void send(long... sequences) {
    for (long s : sequences) {
      frames.offer(frame(s, () -> new float[MODEL.input().size()]))
          .toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    }
  }

  static VideoInput frame(long sequence, java.util.function.Supplier<float[]> pixels) {
    return new VideoInput(sequence, sequence * 33_333, System.nanoTime(), pixels, false);
  }

  ExplainSupervisor.Submit submitted(long sequence) {
    ExplainSupervisor.Submit submit = supervisor.expectMessageClass(ExplainSupervisor.Submit.class);
    assertEquals("test/" + sequence, submit.order().requestId(), "frame submitted");
    return submit;
  }

  /** Plays the worker finishing a frame's job with a map filled with {@code value}. */
  static void finish(ExplainSupervisor.Submit job, float value) {
    ClassScore top = new ClassScore(0, "T-shirt/top", 0.9f, 3f);
    job.sink().offer(new ExplainEvent.Started(job.order().requestId(), "fashion-mnist",
        "vanilla", top, List.of(top), top, Map.of(), new long[] {1, 28, 28}));
    float[] map = new float[28 * 28];
    java.util.Arrays.fill(map, value);
    job.sink().offer(new ExplainEvent.Result(List.of(new SaliencyMap("saliency",
        new FloatTensor(new long[] {28, 28}, map), ColourScale.SEQUENTIAL)), Map.of(), List.of(),
        List.of(), 1, 1, 0));
    job.sink().complete();
  }

  /** The next answer, acknowledged so the session may send the one after. */
  FrameAnswer answer() {
    VideoSession.Output out = output.expectMessageClass(VideoSession.Answer.class);
    session.tell(VideoSession.OutputAck.INSTANCE);
    return ((VideoSession.Answer) out).answer();
  }

  FrameAnswer answer(long sequence, Class<? extends FrameAnswer.Outcome> outcome) {
    FrameAnswer a = answer();
    assertEquals(sequence, a.sequence(), "answers come in sequence order");
    assertInstanceOf(outcome, a.outcome(), "frame " + sequence);
    return a;
  }

  @Test
  void eachFrameIsAnOrderOfTheClientThatOpenedTheSession() {
    session = kit.spawn(VideoSession.create("test", settings(2, DropPolicy.NEVER_DROP, 0),
        supervisor.ref(), Runnable::run, Long.MAX_VALUE, "alice", METRICS));
    Pair<SourceQueueWithComplete<VideoInput>, Source<VideoInput, org.apache.pekko.NotUsed>> q =
        Source.<VideoInput>queue(256, OverflowStrategy.backpressure()).preMaterialize(kit.system());
    frames = q.first();
    session.tell(new VideoSession.Start(output.ref(), q.second()));

    send(1, 2);

    assertEquals("alice", submitted(1).order().client());
    assertEquals("alice", submitted(2).order().client());
  }

  @Test
  void framesArrivingWhileAllSlotsAreBusyAreDroppedExceptTheNewest() {
    open(1, DropPolicy.LATEST_FRAME_WINS);
    send(1);
    ExplainSupervisor.Submit first = submitted(1);
    send(2, 3, 4);
    supervisor.expectNoMessage(QUIET);

    finish(first, 1);

    answer(1, Explained.class);
    assertEquals(Dropped.SUPERSEDED, ((Dropped) answer(2, Dropped.class).outcome()).reason());
    assertEquals(Dropped.SUPERSEDED, ((Dropped) answer(3, Dropped.class).outcome()).reason());
    finish(submitted(4), 1);
    answer(4, Explained.class);
  }

  @Test
  void neverDropExplainsEveryFrameOneSlotAtATime() {
    open(1, DropPolicy.NEVER_DROP);
    send(1, 2, 3, 4);
    for (long s = 1; s <= 4; s++) {
      ExplainSupervisor.Submit job = submitted(s);
      supervisor.expectNoMessage(Duration.ofMillis(50));
      finish(job, 1);
      answer(s, Explained.class);
    }
  }

  @Test
  void aFrameFinishedEarlyWaitsForTheFramesBeforeIt() {
    open(2, DropPolicy.LATEST_FRAME_WINS);
    send(10, 20);
    ExplainSupervisor.Submit first = submitted(10);
    ExplainSupervisor.Submit second = submitted(20);

    finish(second, 2);
    output.expectNoMessage(QUIET);
    finish(first, 1);

    answer(10, Explained.class);
    answer(20, Explained.class);
  }

  @Test
  void halfCloseAnswersTheFramesInFlightThenEnds() {
    open(2, DropPolicy.LATEST_FRAME_WINS);
    send(1, 2);
    ExplainSupervisor.Submit first = submitted(1);
    ExplainSupervisor.Submit second = submitted(2);
    frames.complete();
    output.expectNoMessage(QUIET);

    finish(first, 1);
    finish(second, 1);

    answer(1, Explained.class);
    answer(2, Explained.class);
    output.expectMessageClass(VideoSession.End.class);
  }

  @Test
  void unreadAnswersStopTheSessionReadingFrames() {
    AtomicInteger pulled = new AtomicInteger();
    ActorRef<VideoSession.Command> s = kit.spawn(VideoSession.create("test",
        settings(1, DropPolicy.LATEST_FRAME_WINS, 0), supervisor.ref(), Runnable::run,
        Long.MAX_VALUE, METRICS));
    session = s;
    Source<VideoInput, ?> endless = Source.fromIterator(() -> Stream.iterate(1L, n -> n + 1)
        .map(n -> {
          pulled.incrementAndGet();
          return frame(n, () -> new float[MODEL.input().size()]);
        }).iterator());
    s.tell(new VideoSession.Start(output.ref(), endless));
    finish(submitted(1), 1);
    // The client reads no answers: the session sends one and then holds the rest.
    output.expectMessageClass(VideoSession.Answer.class);
    output.expectNoMessage(QUIET);
    int held = pulled.get();
    output.expectNoMessage(QUIET);

    assertEquals(held, pulled.get(), "no more frames are read while answers go unread");
    // In flight, waiting, unread answers, one frame in the input stage's buffer and one in the
    // hand of the source stage.
    assertTrue(held <= 1 + 1 + VideoSession.ANSWER_BACKLOG + 3,
        "frames held are bounded, got " + held);
  }

  @Test
  void aCancelledStreamFreesTheJobsInFlight() {
    open(2, DropPolicy.LATEST_FRAME_WINS);
    send(1, 2);
    ExplainSupervisor.Submit first = submitted(1);
    ExplainSupervisor.Submit second = submitted(2);

    output.stop();

    TestProbe<Object> watcher = kit.createTestProbe();
    watcher.expectTerminated(session, Duration.ofSeconds(5));
    assertTrue(first.sink().whenClosed().toCompletableFuture().isDone(), "first job freed");
    assertTrue(second.sink().whenClosed().toCompletableFuture().isDone(), "second job freed");
    session = null;
  }

  @Test
  void theStreamDeadlineFailsTheSessionWithDeadlineExceeded() {
    open(settings(1, DropPolicy.LATEST_FRAME_WINS, 0), System.nanoTime() + 300_000_000L);
    send(1);
    ExplainSupervisor.Submit job = submitted(1);

    var failed = output.expectMessageClass(VideoSession.Failed.class, Duration.ofSeconds(5));

    assertInstanceOf(SalientException.DeadlineExceeded.class, failed.error());
    assertTrue(job.sink().whenClosed().toCompletableFuture().isDone(), "its job is freed");
  }

  @Test
  void aSequenceNumberThatDoesNotIncreaseFailsWithInvalidArgument() {
    open(2, DropPolicy.LATEST_FRAME_WINS);
    send(5, 5);

    var failed = output.expectMessageClass(VideoSession.Failed.class);

    assertInstanceOf(SalientException.InvalidArgument.class, failed.error());
    assertTrue(failed.error().getMessage().contains("does not increase"),
        failed.error().getMessage());
  }

  @Test
  void aFrameThatCannotBeDecodedFailsWithInvalidArgumentNamingIt() {
    open(2, DropPolicy.LATEST_FRAME_WINS);
    frames.offer(frame(7, () -> {
      throw new SalientException.InvalidArgument("not a PNG");
    }));

    var failed = output.expectMessageClass(VideoSession.Failed.class);

    assertInstanceOf(SalientException.InvalidArgument.class, failed.error());
    assertEquals("frame 7: not a PNG", failed.error().getMessage());
  }

  @Test
  void aFrameTheServerRefusesIsAnsweredAsDroppedAndTheSessionGoesOn() {
    open(1, DropPolicy.LATEST_FRAME_WINS);
    send(1);
    submitted(1).sink().fail(new SalientException.CapacityExceeded("the server is busy"));

    FrameAnswer refused = answer(1, Dropped.class);
    send(2);
    finish(submitted(2), 1);

    assertEquals(new Dropped(Dropped.SERVER_BUSY, "the server is busy"), refused.outcome());
    answer(2, Explained.class);
  }

  @Test
  void smoothingAveragesEachMapWithThePreviousAnswer() {
    open(settings(1, DropPolicy.NEVER_DROP, 0.75), Long.MAX_VALUE);
    send(1, 2);
    finish(submitted(1), 4);
    float first = ((Explained) answer(1, Explained.class).outcome()).maps().get(0).tensor()
        .data()[0];
    finish(submitted(2), 8);
    float[] second = ((Explained) answer(2, Explained.class).outcome()).maps().get(0).tensor()
        .data();

    assertEquals(4f, first, "the first map passes through");
    float[] expected = new float[second.length];
    java.util.Arrays.fill(expected, 0.75f * 4 + 0.25f * 8);
    assertArrayEquals(expected, second, 1e-6f);
  }

  @Test
  void answersEchoTheCaptureTimeAndMeasureTheServerLatency() {
    open(1, DropPolicy.LATEST_FRAME_WINS);
    send(3);
    finish(submitted(3), 1);

    FrameAnswer a = answer(3, Explained.class);

    assertEquals(3 * 33_333, a.captureTimeUs());
    assertTrue(a.serverLatencyNanos() > 0, "latency measured");
  }
}
