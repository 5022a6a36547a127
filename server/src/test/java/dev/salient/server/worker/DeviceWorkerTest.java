package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.method.VanillaGradient;
import dev.salient.server.util.SalientException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The device worker's scheduling, with a fake engine. */
class DeviceWorkerTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static ModelPackage model;

  FakeEngine engine;
  SchedulerMetrics metrics;
  java.util.concurrent.atomic.AtomicInteger engineLoads;
  ActorRef<DeviceWorker.Command> worker;
  TestProbe<ExplainSupervisor.Command> ended;
  ExecutorService engineThread;

  @BeforeAll
  static void writeModelPackage(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("model.json"), "{\"name\":\"fake\",\"format\":\"torchscript\","
        + "\"labels\":\"labels.txt\",\"input\":{\"channels\":1,\"height\":2,\"width\":2}}");
    Files.writeString(dir.resolve("labels.txt"), "up\ndown\n");
    model = ModelPackage.read(dir);
  }

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void spawn() {
    engine = new FakeEngine();
    engineThread = Executors.newSingleThreadExecutor();
    metrics = new SchedulerMetrics(new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    engineLoads = new java.util.concurrent.atomic.AtomicInteger();
    // Every reload hands back the same fake, so a test can keep steering it.
    var runtime = new DeviceWorker.DeviceRuntime("cpu-0", "cpu", () -> {
      engineLoads.incrementAndGet();
      return engine;
    }, engine, engineThread);
    worker = testKit.spawn(DeviceWorker.create(runtime, new WorkerSettings(8,
        java.time.Duration.ofMillis(2), 0.1, java.time.Duration.ofMillis(100),
        java.time.Duration.ofMillis(10),
        java.time.Duration.ofMillis(100)), metrics));
    ended = testKit.createTestProbe();
  }

  @org.junit.jupiter.api.AfterEach
  void stop() {
    testKit.stop(worker);
  }

  private long nextId = 1;

  /** A job of two passes: the prediction, then the probability's gradient. */
  private RecordingSink submit() {
    return submit(Long.MAX_VALUE);
  }

  private RecordingSink submit(long deadlineNanos) {
    RecordingSink sink = new RecordingSink();
    ExplainOrder order = new ExplainOrder("r" + nextId, "fake", new float[] {0.1f, 0.2f, 0.3f, 0.4f},
        "vanilla", Map.of("output", "probability"), new TargetSpec.Predicted(), 2, 1, false, false,
        deadlineNanos, ExplainOrder.ANONYMOUS);
    Job job = new Job(nextId++, order, model, new VanillaGradient().prepare(Map.of("output", "probability")), sink);
    worker.tell(new DeviceWorker.StartJob(job, ended.getRef()));
    return sink;
  }

  private static Throwable outcome(RecordingSink sink) {
    return sink.outcome.orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void aJobSendsStartedFrameAndResultThenCompletes() {
    RecordingSink sink = submit();

    assertNull(outcome(sink));
    assertInstanceOf(ExplainEvent.Started.class, sink.events.get(0));
    assertInstanceOf(ExplainEvent.Frame.class, sink.events.get(1));
    assertInstanceOf(ExplainEvent.Result.class, sink.events.get(2));
    assertEquals(SchedulerMetrics.Outcome.COMPLETED,
        ended.expectMessageClass(ExplainSupervisor.JobEnded.class).outcome());
  }

  @Test
  void passesOfJobsWaitingTogetherRunAsOneEngineCall() {
    engine.gate = new CountDownLatch(1);
    RecordingSink first = submit();
    RecordingSink second = submit();
    RecordingSink third = submit();
    engine.gate.countDown();

    assertNull(outcome(first));
    assertNull(outcome(second));
    assertNull(outcome(third));
    assertTrue(engine.batchSizes.contains(2) || engine.batchSizes.contains(3),
        "batch sizes " + engine.batchSizes);
    assertEquals(6, engine.batchSizes.stream().mapToInt(Integer::intValue).sum(),
        "two passes per job");
  }

  @Test
  void noCallCarriesMoreImagesThanTheEnginesBestBatch() {
    engine.bestBatch = 3;
    engine.gate = new CountDownLatch(1);
    List<RecordingSink> sinks = new java.util.ArrayList<>();
    for (int i = 0; i < 7; i++) {
      sinks.add(submit());
    }
    engine.gate.countDown();

    sinks.forEach(sink -> assertNull(outcome(sink)));
    assertTrue(engine.batchSizes.stream().allMatch(size -> size <= 3),
        "batch sizes " + engine.batchSizes);
    assertTrue(engine.batchSizes.contains(3), "calls fill up to the best batch: "
        + engine.batchSizes);
  }

  @Test
  void aNewJobsFirstPassSharesACallWithARunningJobsPassOnAnotherOutput() {
    // Each job: a logit-gradient first pass (the prediction), then a probability-gradient pass.
    engine.gate = new CountDownLatch(1);
    RecordingSink running = submit();
    RecordingSink arriving = submit();
    engine.gate.countDown();

    assertNull(outcome(running));
    assertNull(outcome(arriving));
    assertEquals(List.of(1, 2, 1), engine.batchSizes,
        "the arriving job's first pass rides with the running job's second");
  }

  @Test
  void anEngineFailureFailsOnlyItsJobsAndTheWorkerReloadsItsEngine() {
    engine.gate = new CountDownLatch(1);
    RecordingSink failed = submit();
    engine.failNext = true;
    engine.gate.countDown();
    assertInstanceOf(SalientException.Unavailable.class, outcome(failed));

    RecordingSink next = submit();

    assertNull(outcome(next));
    assertEquals(1, engineLoads.get(), "one reload after the failure");
    assertEquals(1, metrics.snapshot().workers().get(0).restarts());
  }

  @Test
  void jobsWaitingDuringAReloadRunAfterIt() {
    engine.failNext = true;
    RecordingSink failed = submit();
    RecordingSink waiting = submit();

    assertInstanceOf(SalientException.Unavailable.class, outcome(failed));
    assertNull(outcome(waiting));
  }

  @Test
  void aJobPastItsDeadlineEndsWithDeadlineExceededBeforeItsNextPass() {
    RecordingSink sink = submit(System.nanoTime() - 1);

    assertInstanceOf(SalientException.DeadlineExceeded.class, outcome(sink));
    assertEquals(List.of(), engine.batchSizes, "no pass ran");
  }

  @Test
  void aCancelledJobRunsNoFurtherPass() {
    engine.gate = new CountDownLatch(1);
    RecordingSink sink = submit();
    sink.cancel();
    assertEquals(SchedulerMetrics.Outcome.CANCELLED,
        ended.expectMessageClass(ExplainSupervisor.JobEnded.class).outcome());
    engine.gate.countDown();

    RecordingSink after = submit();
    assertNull(outcome(after));
    // The cancelled job's first pass may have started; its second never runs.
    assertTrue(engine.batchSizes.size() <= 3, "engine calls " + engine.batchSizes);
    assertEquals(List.of(), sink.events.stream()
        .filter(e -> e instanceof ExplainEvent.Result).toList());
  }
}
