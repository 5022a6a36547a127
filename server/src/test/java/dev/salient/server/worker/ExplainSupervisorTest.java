package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admission: validation before any model work, the in-flight bound, least-loaded placement, and
 * the drain before the server stops.
 */
class ExplainSupervisorTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static ModelCatalog catalog;

  @BeforeAll
  static void writeModelPackage(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("model.json"), "{\"name\":\"fake\",\"format\":\"torchscript\","
        + "\"labels\":\"labels.txt\",\"input\":{\"channels\":1,\"height\":2,\"width\":2}}");
    Files.writeString(dir.resolve("labels.txt"), "up\ndown\n");
    catalog = new ModelCatalog(List.of(ModelPackage.read(dir)));
  }

  @AfterAll
  static void shutdown() {
    testKit.shutdownTestKit();
  }

  record Started(ActorRef<ExplainSupervisor.Command> supervisor, List<FakeEngine> engines,
      SchedulerMetrics metrics) {}

  static Started start(int workers, int maxInFlight) {
    SchedulerMetrics metrics = new SchedulerMetrics(new SimpleMeterRegistry());
    List<FakeEngine> engines = new java.util.ArrayList<>();
    List<DeviceWorker.DeviceRuntime> runtimes = new java.util.ArrayList<>();
    for (int i = 0; i < workers; i++) {
      FakeEngine engine = new FakeEngine();
      engines.add(engine);
      runtimes.add(new DeviceWorker.DeviceRuntime("cpu-" + i, "cpu", () -> engine, engine,
          Executors.newSingleThreadExecutor()));
    }
    var supervisor = testKit.spawn(ExplainSupervisor.create(catalog, MethodRegistry.standard(),
        runtimes, new WorkerSettings(8, Duration.ZERO, 0, Duration.ZERO, Duration.ofMillis(10),
            Duration.ofMillis(100)), maxInFlight, metrics));
    return new Started(supervisor, engines, metrics);
  }

  static RecordingSink submit(ActorRef<ExplainSupervisor.Command> supervisor, String method,
      TargetSpec target) {
    return submit(supervisor, method, target, ExplainOrder.ANONYMOUS);
  }

  static RecordingSink submitAs(ActorRef<ExplainSupervisor.Command> supervisor, String client) {
    return submit(supervisor, "vanilla", new TargetSpec.Predicted(), client);
  }

  static RecordingSink submit(ActorRef<ExplainSupervisor.Command> supervisor, String method,
      TargetSpec target, String client) {
    RecordingSink sink = new RecordingSink();
    supervisor.tell(new ExplainSupervisor.Submit(new ExplainOrder("r", "", new float[4], method,
        Map.of(), target, 2, 1, false, false, Long.MAX_VALUE, client), sink));
    return sink;
  }

  static Throwable outcome(RecordingSink sink) {
    return sink.outcome.orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void requestsBeyondTheInFlightBoundAreRefusedWithCapacityExceeded() {
    Started s = start(1, 1);
    s.engines().get(0).gate = new CountDownLatch(1);
    RecordingSink admitted = submit(s.supervisor(), "vanilla", new TargetSpec.Predicted());
    RecordingSink refused = submit(s.supervisor(), "vanilla", new TargetSpec.Predicted());

    Throwable error = outcome(refused);
    assertInstanceOf(SalientException.CapacityExceeded.class, error);
    assertTrue(error.getMessage().contains("max-in-flight"), error.getMessage());
    s.engines().get(0).gate.countDown();
    assertNull(outcome(admitted));
    assertEquals(1, s.metrics().snapshot().rejected());
  }

  @Test
  void aClientOverItsQuotaIsRefusedWhileAnotherClientGetsIn() {
    SchedulerMetrics metrics = new SchedulerMetrics(new SimpleMeterRegistry());
    FakeEngine engine = new FakeEngine();
    engine.gate = new CountDownLatch(1);
    var supervisor = testKit.spawn(ExplainSupervisor.create(catalog, MethodRegistry.standard(),
        List.of(new DeviceWorker.DeviceRuntime("cpu-0", "cpu", () -> engine, engine,
            Executors.newSingleThreadExecutor())),
        new WorkerSettings(8, Duration.ZERO, 0, Duration.ZERO, Duration.ofMillis(10),
            Duration.ofMillis(100)), 8, 2, metrics, DecodeBudget.unlimited()));
    RecordingSink first = submitAs(supervisor, "alice");
    RecordingSink second = submitAs(supervisor, "alice");
    RecordingSink third = submitAs(supervisor, "alice");
    RecordingSink other = submitAs(supervisor, "bob");

    Throwable error = outcome(third);
    assertInstanceOf(SalientException.CapacityExceeded.class, error);
    assertEquals("client alice has 2 requests in flight (limit 2 per client); wait for one to "
        + "finish, or raise salient.scheduler.max-in-flight-per-client", error.getMessage());
    engine.gate.countDown();
    assertNull(outcome(first));
    assertNull(outcome(second));
    assertNull(outcome(other), "bob got in while alice was at her quota");
    assertNull(outcome(submitAs(supervisor, "alice")), "alice's ended requests freed her places");
  }

  @Test
  void aFinishedRequestFreesItsPlace() {
    Started s = start(1, 1);
    assertNull(outcome(submit(s.supervisor(), "vanilla", new TargetSpec.Predicted())));

    assertNull(outcome(submit(s.supervisor(), "vanilla", new TargetSpec.Predicted())));
  }

  @Test
  void anUnknownMethodIsRefusedBeforeAnyPass() {
    Started s = start(1, 4);

    Throwable error = outcome(submit(s.supervisor(), "nope", new TargetSpec.Predicted()));

    assertInstanceOf(SalientException.InvalidArgument.class, error);
    assertEquals(List.of(), s.engines().get(0).batchSizes);
  }

  @Test
  void jobsGoToTheLeastLoadedWorker() {
    Started s = start(2, 8);
    s.engines().forEach(e -> e.gate = new CountDownLatch(1));
    RecordingSink a = submit(s.supervisor(), "vanilla", new TargetSpec.Predicted());
    RecordingSink b = submit(s.supervisor(), "vanilla", new TargetSpec.Predicted());
    s.engines().forEach(e -> e.gate.countDown());

    assertNull(outcome(a));
    assertNull(outcome(b));
    assertEquals(1, s.engines().get(0).batchSizes.size(), "one job on the first worker");
    assertEquals(1, s.engines().get(1).batchSizes.size(), "one job on the second worker");
  }

  private static final Duration LONG_PERIOD = Duration.ofSeconds(30);
  private static final Duration SHORT_PERIOD = Duration.ofMillis(200);

  private static TestProbe<Done> drain(ActorRef<ExplainSupervisor.Command> supervisor,
      Duration period) {
    TestProbe<Done> drained = testKit.createTestProbe();
    supervisor.tell(new ExplainSupervisor.Drain(period, drained.ref()));
    return drained;
  }

  private static RecordingSink submitVanilla(ActorRef<ExplainSupervisor.Command> supervisor,
      boolean continuesStream) {
    RecordingSink sink = new RecordingSink();
    supervisor.tell(new ExplainSupervisor.Submit(new ExplainOrder("r", "", new float[4],
        "vanilla", Map.of(), new TargetSpec.Predicted(), 2, 1, false, false, Long.MAX_VALUE, ExplainOrder.ANONYMOUS),
        sink, continuesStream));
    return sink;
  }

  @Test
  void drain_aNewRequestIsRefusedAsShuttingDown() {
    var s = start(1, 4);
    drain(s.supervisor(), LONG_PERIOD);

    Throwable error = outcome(submitVanilla(s.supervisor(), false));

    assertInstanceOf(SalientException.ShuttingDown.class, error);
    assertEquals(SalientException.ShuttingDown.REFUSED, error.getMessage());
    assertEquals(List.of(), s.engines().get(0).batchSizes, "no model work");
  }

  @Test
  void drain_theNextFrameOfARunningVideoStreamIsStillAdmitted() {
    var s = start(1, 4);
    drain(s.supervisor(), LONG_PERIOD);

    assertNull(outcome(submitVanilla(s.supervisor(), true)));
  }

  @Test
  void drain_withNothingRunningTheDrainEndsAtOnce() {
    var s = start(1, 4);

    drain(s.supervisor(), LONG_PERIOD).expectMessage(Duration.ofSeconds(1), Done.getInstance());
  }

  @Test
  void drain_aRunningRequestFinishesWithinThePeriodAndThenTheDrainEnds() {
    var s = start(1, 4);
    s.engines().get(0).gate = new CountDownLatch(1);
    RecordingSink running = submitVanilla(s.supervisor(), false);
    TestProbe<Done> drained = drain(s.supervisor(), LONG_PERIOD);
    drained.expectNoMessage(Duration.ofMillis(100));

    s.engines().get(0).gate.countDown();

    assertNull(outcome(running));
    drained.expectMessage(Done.getInstance());
  }

  @Test
  void drain_aRequestStillRunningAtThePeriodsEndIsEndedAsCutOff() {
    var s = start(1, 4);
    s.engines().get(0).gate = new CountDownLatch(1);
    RecordingSink running = submitVanilla(s.supervisor(), false);

    TestProbe<Done> drained = drain(s.supervisor(), SHORT_PERIOD);

    Throwable error = outcome(running);
    assertInstanceOf(SalientException.ShuttingDown.class, error);
    assertEquals(SalientException.ShuttingDown.CUT_OFF, error.getMessage());
    drained.expectMessage(Done.getInstance());
    s.engines().get(0).gate.countDown();
  }

  /** Two workers, cpu-0 and cpu-1, with the model "fake" placed on {@code placedOn}. */
  static Started startPlaced(List<String> placedOn) {
    SchedulerMetrics metrics = new SchedulerMetrics(new SimpleMeterRegistry());
    List<FakeEngine> engines = List.of(new FakeEngine(), new FakeEngine());
    List<DeviceWorker.DeviceRuntime> runtimes = new java.util.ArrayList<>();
    for (int i = 0; i < engines.size(); i++) {
      FakeEngine engine = engines.get(i);
      runtimes.add(new DeviceWorker.DeviceRuntime("cpu-" + i, "cpu", () -> engine, engine,
          Executors.newSingleThreadExecutor()));
    }
    SharingSettings sharing = new SharingSettings(Duration.ZERO, Duration.ofMillis(100), 1, 1,
        Map.of("fake", new SharingSettings.ModelShare(1, 0, placedOn)));
    var supervisor = testKit.spawn(ExplainSupervisor.create(catalog, MethodRegistry.standard(),
        runtimes, new WorkerSettings(8, Duration.ZERO, 0, Duration.ZERO, Duration.ofMillis(10),
            Duration.ofMillis(100), sharing), 8, 8, metrics, DecodeBudget.unlimited()));
    return new Started(supervisor, engines, metrics);
  }

  @Test
  void aModelPlacedOnAWorkerRunsOnThatWorkerOnly() {
    Started s = startPlaced(List.of("cpu-1"));
    List<RecordingSink> sinks = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      sinks.add(submit(s.supervisor(), "vanilla", new TargetSpec.Predicted()));
    }

    sinks.forEach(sink -> assertNull(outcome(sink)));
    assertEquals(0, s.engines().get(0).calls.size(), "calls on cpu-0");
    assertTrue(s.engines().get(1).calls.size() >= 2, "calls on cpu-1: "
        + s.engines().get(1).calls.size());
  }

  @Test
  void aPlacementNamingNoWorkerStopsTheServerAtStartNamingTheKey() {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
        () -> startPlaced(List.of("gpu-7")));
    assertTrue(error.getMessage().contains("salient.sharing.models.fake.workers names gpu-7"),
        error.getMessage());
    assertTrue(error.getMessage().contains("[cpu-0, cpu-1]"), error.getMessage());
  }
}
