package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.ExplainEvent;
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
    worker = testKit.spawn(DeviceWorker.create("cpu", engine, engineThread, 8));
    ended = testKit.createTestProbe();
  }

  private long nextId = 1;

  /** A job of two passes: the prediction, then the probability's gradient. */
  private RecordingSink submit() {
    RecordingSink sink = new RecordingSink();
    ExplainOrder order = new ExplainOrder("r" + nextId, "fake", new float[] {0.1f, 0.2f, 0.3f, 0.4f},
        "vanilla", Map.of("output", "probability"), new TargetSpec.Predicted(), 2, 1, false, false, Long.MAX_VALUE);
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
    ended.expectMessageClass(ExplainSupervisor.JobEnded.class);
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
  void anEngineFailureFailsItsJobWithUnavailableAndTheWorkerGoesOn() {
    engine.failNext = true;
    RecordingSink failed = submit();

    assertInstanceOf(SalientException.Unavailable.class, outcome(failed));
    RecordingSink next = submit();
    assertNull(outcome(next));
  }

  @Test
  void aCancelledJobRunsNoFurtherPass() {
    engine.gate = new CountDownLatch(1);
    RecordingSink sink = submit();
    sink.cancel();
    ended.expectMessageClass(ExplainSupervisor.JobEnded.class);
    engine.gate.countDown();

    RecordingSink after = submit();
    assertNull(outcome(after));
    // The cancelled job's first pass may have started; its second never runs.
    assertTrue(engine.batchSizes.size() <= 3, "engine calls " + engine.batchSizes);
    assertEquals(List.of(), sink.events.stream()
        .filter(e -> e instanceof ExplainEvent.Result).toList());
  }
}
