package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.VanillaGradient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's wait for clients coming back after an engine call. Time is manual: a round that
 * waits runs only when the test moves the clock, so "did not wait" and "waited at most" need no
 * real-time measurement. {@code max-wait} is zero, to watch this wait alone.
 */
class ReturnWaitTest {
  static final ActorTestKit testKit = ActorTestKit.create(ManualTime.config());
  static final ManualTime manualTime = ManualTime.get(testKit.system());
  static ModelPackage model;
  static ModelPackage other;

  FakeEngine engine;
  ActorRef<DeviceWorker.Command> worker;
  TestProbe<ExplainSupervisor.Command> ended;
  long nextId = 1;

  @BeforeAll
  static void writeModelPackage(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("model.json"), "{\"name\":\"fake\",\"format\":\"torchscript\","
        + "\"labels\":\"labels.txt\",\"input\":{\"channels\":1,\"height\":2,\"width\":2}}");
    Files.writeString(dir.resolve("labels.txt"), "up\ndown\n");
    model = ModelPackage.read(dir);
    Path otherDir = Files.createDirectories(dir.resolve("other"));
    Files.writeString(otherDir.resolve("model.json"), "{\"name\":\"other\","
        + "\"format\":\"torchscript\",\"labels\":\"labels.txt\","
        + "\"input\":{\"channels\":1,\"height\":2,\"width\":2}}");
    Files.writeString(otherDir.resolve("labels.txt"), "up\ndown\n");
    other = ModelPackage.read(otherDir);
  }

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  @BeforeEach
  void createEngine() {
    engine = new FakeEngine();
    ended = testKit.createTestProbe();
  }

  @AfterEach
  void stop() {
    testKit.stop(worker);
  }

  private void spawn(int maxBatch, double fraction, Duration maxReturnWait) {
    var runtime = new DeviceWorker.DeviceRuntime("cpu-0", "cpu", () -> engine, engine,
        Executors.newSingleThreadExecutor());
    worker = testKit.spawn(DeviceWorker.create(runtime, new WorkerSettings(maxBatch,
        Duration.ZERO, fraction, maxReturnWait, Duration.ofMillis(10), Duration.ofMillis(100)),
        new SchedulerMetrics(new SimpleMeterRegistry())));
  }

  /** A job of one pass (the logit's gradient comes with the prediction), or two. */
  private RecordingSink submit(boolean twoPasses) {
    return submit(model, twoPasses);
  }

  private RecordingSink submit(ModelPackage onModel, boolean twoPasses) {
    RecordingSink sink = new RecordingSink();
    Map<String, String> params = twoPasses ? Map.of("output", "probability") : Map.of();
    ExplainOrder order = new ExplainOrder("r" + nextId, onModel.name(), new float[] {0.1f, 0.2f,
        0.3f, 0.4f}, "vanilla", params, new TargetSpec.Predicted(), 2, 1, false, false,
        Long.MAX_VALUE, ExplainOrder.ANONYMOUS);
    Job job = new Job(nextId++, order, onModel, new VanillaGradient().prepare(params), sink);
    worker.tell(new DeviceWorker.StartJob(job, ended.getRef()));
    return sink;
  }

  private static void assertCompletes(RecordingSink... sinks) {
    for (RecordingSink sink : sinks) {
      assertNull(sink.outcome.orTimeout(10, TimeUnit.SECONDS).join());
    }
  }

  @Test
  void aLoneClientsRequestsNeverWait() {
    spawn(8, 1.0, Duration.ofHours(1));

    assertCompletes(submit(false));
    assertCompletes(submit(false));
    assertCompletes(submit(true));

    assertEquals(List.of(1, 1, 1, 1), engine.batchSizes);
  }

  @Test
  void requestsOfClientsComingBackRunAsOneBatchAgain() {
    spawn(8, 0.1, Duration.ofHours(1));
    engine.gate = new CountDownLatch(1);
    RecordingSink a = submit(false);
    RecordingSink b = submit(false);
    RecordingSink c = submit(false);
    engine.gate.countDown();
    assertCompletes(a);

    // b and c, which waited through a's call, wait for a's client to come back.
    RecordingSink aAgain = submit(false);
    assertCompletes(b, c, aAgain);
    // The three clients come back one by one; the first two wait for the third.
    assertCompletes(submit(false), submit(false), submit(false));

    assertEquals(List.of(1, 3, 3), engine.batchSizes);
  }

  @Test
  void theWaitForReturningClientsEndsAtItsCap() {
    spawn(2, 1.0, Duration.ofMillis(10));
    engine.callMillis = 50;
    engine.gate = new CountDownLatch(1);
    RecordingSink first = submit(false);
    RecordingSink a = submit(false);
    RecordingSink b = submit(false);
    RecordingSink late = submit(false);
    engine.gate.countDown();
    // a's end is handled after the call of [a, b], where the round for `late` began to wait.
    assertCompletes(first, a, b);

    // Uncapped, the wait would be the whole 50 ms call time.
    manualTime.timePasses(Duration.ofMillis(10));

    assertCompletes(late);
    assertEquals(List.of(1, 2, 1), engine.batchSizes);
  }

  @Test
  void aRequestArrivingAfterTheWaitForReturnsDoesNotWait() {
    spawn(8, 1.0, Duration.ofHours(1));
    engine.gate = new CountDownLatch(1);
    RecordingSink first = submit(false);
    RecordingSink a = submit(false);
    RecordingSink b = submit(false);
    engine.gate.countDown();
    assertCompletes(first);
    // a and b, which waited through first's call, wait for first's client, who never comes.
    manualTime.timePasses(Duration.ofSeconds(1));
    assertCompletes(a, b);

    // Nor do a's and b's clients. Once the wait has passed, a new request runs at once, with
    // the clock standing still: it is not taken for one of theirs.
    manualTime.timePasses(Duration.ofSeconds(1));
    assertCompletes(submit(false));

    assertEquals(List.of(1, 2, 1), engine.batchSizes);
  }

  @Test
  void anotherModelsReadyPassDoesNotWaitForTheLastCallsClients() {
    spawn(8, 1.0, Duration.ofHours(1));
    engine.gate = new CountDownLatch(1);
    RecordingSink first = submit(false);
    RecordingSink waiting = submit(false);
    RecordingSink otherModel = submit(other, false);
    engine.gate.countDown();
    assertCompletes(first, waiting);

    // The call of the model "fake" carried two jobs; the other model's pass goes at once, with
    // the clock standing still, instead of waiting for those clients to come back.
    assertCompletes(otherModel);
  }
}
