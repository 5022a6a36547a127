package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.BatchTolerance;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 27, same request, same answer: for every registered method, 24 held-out images with
 * targets of rank 1, 2 and 3, explained one at a time and then all at once in one worker on the
 * real engine, give the same discrete outputs and maps and values within the method's declared
 * {@link BatchTolerance}.
 */
class SameAnswerTest {
  static final int REQUESTS = 24;
  static final ActorTestKit testKit = ActorTestKit.create();
  static final MethodRegistry registry = MethodRegistry.standard();
  static final AtomicInteger engineCalls = new AtomicInteger();
  static final AtomicLong ids = new AtomicLong();
  static ModelPackage model;
  static DeviceWorker.DeviceRuntime runtime;
  static ActorRef<DeviceWorker.Command> worker;

  @BeforeAll
  static void start() {
    model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    runtime = DeviceWorker.loadRuntime("cpu-0", "cpu", List.of(model));
    PassEngine counting = new PassEngine() {
      @Override
      public PassResult run(String name, Pass pass) {
        engineCalls.incrementAndGet();
        return runtime.engine().run(name, pass);
      }

      @Override
      public void close() {
        runtime.engine().close();
      }
    };
    worker = testKit.spawn(DeviceWorker.create(new DeviceWorker.DeviceRuntime("cpu-0", "cpu",
        () -> counting, counting, runtime.thread()), new WorkerSettings(64,
        Duration.ofMillis(2), 0.1, Duration.ofMillis(100), Duration.ofMillis(10),
        Duration.ofMillis(100)), new SchedulerMetrics(new SimpleMeterRegistry())));
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  static Stream<String> methods() {
    return registry.all().stream().map(ExplanationMethod::name);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("methods")
  void requestsAloneAndAllAtOnceGiveTheSameDecisionsAndMapsWithinTheDeclaredTolerance(
      String name) {
    ExplanationMethod method = registry.lookup(name, model);
    BatchTolerance tolerance = method.batchTolerance();
    assertNotNull(tolerance, name + " declares no BatchTolerance (see docs/reproducibility.md)");
    List<ExplainOrder> orders = new ArrayList<>();
    for (int i = 0; i < REQUESTS; i++) {
      orders.add(order(name, i, false));
    }

    int before = engineCalls.get();
    List<ExplainEvent.Result> alone = new ArrayList<>();
    for (ExplainOrder order : orders) {
      alone.addAll(explain(method, List.of(order)));
    }
    int callsAlone = engineCalls.get() - before;
    List<ExplainEvent.Result> together = explain(method, orders);
    int callsTogether = engineCalls.get() - before - callsAlone;

    assertTrue(callsTogether < callsAlone, "the requests shared engine calls: " + callsTogether
        + " calls together against " + callsAlone + " alone");
    double worstMap = 0;
    double worstValue = 0;
    for (int i = 0; i < REQUESTS; i++) {
      assertAgree(tolerance, alone.get(i), together.get(i), name + " request " + i);
      worstMap = Math.max(worstMap, worstMapDifference(alone.get(i), together.get(i)));
      worstValue = Math.max(worstValue, worstValueDifference(alone.get(i), together.get(i)));
    }
    System.out.printf("%s: worst map difference %.2g (tolerance %.0g), worst value difference "
        + "%.2g (tolerance %.0g), %d engine calls together against %d alone%n", name, worstMap,
        tolerance.maps(), worstValue, tolerance.values(), callsTogether, callsAlone);
  }

  private static double worstMapDifference(ExplainEvent.Result a, ExplainEvent.Result b) {
    double worst = 0;
    for (int m = 0; m < a.maps().size(); m++) {
      worst = Math.max(worst, BatchTolerance.mapDifference(a.maps().get(m).tensor().data(),
          b.maps().get(m).tensor().data()));
    }
    return worst;
  }

  /** As {@link BatchTolerance#valuesAgree} measures: a share of {@code max(1, |value|)}. */
  private static double worstValueDifference(ExplainEvent.Result a, ExplainEvent.Result b) {
    double worst = 0;
    for (var e : a.values().entrySet()) {
      double x = e.getValue();
      double y = b.values().get(e.getKey());
      worst = Math.max(worst, Math.abs(x - y) / Math.max(1, Math.max(Math.abs(x), Math.abs(y))));
    }
    return worst;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("methods")
  void aDeterministicRequestIsTheSameBitForBitOnAnIdleWorkerAndUnderALoadOf64Others(
      String name) {
    ExplanationMethod method = registry.lookup(name, model);
    ExplainOrder request = order(name, 5, true);
    List<ExplainOrder> loaded = new ArrayList<>(List.of(request));
    for (int i = 0; i < 64; i++) {
      loaded.add(order(name, i % REQUESTS, false));
    }

    ExplainEvent.Result first = explain(method, List.of(request)).get(0);
    ExplainEvent.Result second = explain(method, List.of(request)).get(0);
    ExplainEvent.Result underLoad = explain(method, loaded).get(0);

    assertIdentical(first, second, name + " twice on an idle worker");
    assertIdentical(first, underLoad, name + " under load");
    assertTrue(underLoad.provenance().deterministic(), "the result says it was deterministic");
  }

  /** Image {@code i} of 24 spread over the samples' classes, with a target of rank 1, 2 or 3. */
  static ExplainOrder order(String method, int i, boolean deterministic) {
    return new ExplainOrder("same-" + i, model.name(), TestImages.sample(i * 4),
        method, Map.of(), new TargetSpec.Rank(1 + i % 3), 3, Integer.MAX_VALUE, false, false,
        Long.MAX_VALUE, ExplainOrder.ANONYMOUS, deterministic, 0, false);
  }

  /** Starts {@code orders} at once on the worker and waits for their results, in order. */
  static List<ExplainEvent.Result> explain(ExplanationMethod method, List<ExplainOrder> orders) {
    TestProbe<ExplainSupervisor.Command> ended = testKit.createTestProbe();
    List<RecordingSink> sinks = new ArrayList<>();
    for (ExplainOrder order : orders) {
      RecordingSink sink = new RecordingSink();
      sinks.add(sink);
      worker.tell(new DeviceWorker.StartJob(new Job(ids.incrementAndGet(), order, model,
          method.prepare(order.parameters()), sink), ended.getRef()));
    }
    for (int i = 0; i < orders.size(); i++) {
      ended.expectMessageClass(ExplainSupervisor.JobEnded.class, Duration.ofSeconds(120));
    }
    List<ExplainEvent.Result> results = new ArrayList<>();
    for (RecordingSink sink : sinks) {
      if (!(sink.events.get(sink.events.size() - 1) instanceof ExplainEvent.Result r)) {
        throw new AssertionError("no result: " + sink.events.get(sink.events.size() - 1));
      }
      results.add(r);
    }
    return results;
  }

  /** Asserts that {@code b} agrees with {@code a} as {@code tolerance} says. */
  static void assertAgree(BatchTolerance tolerance, ExplainEvent.Result a, ExplainEvent.Result b,
      String what) {
    assertEquals(a.values().keySet(), b.values().keySet(), what + ": value names");
    a.values().forEach((key, value) -> {
      if (!tolerance.valuesAgree(key, value, b.values().get(key))) {
        fail(what + ": value " + key + " " + value + " against " + b.values().get(key));
      }
    });
    assertMapsAgree(tolerance, a.maps(), b.maps(), what);
    assertEquals(a.snapshots().size(), b.snapshots().size(), what + ": snapshots");
    for (int s = 0; s < a.snapshots().size(); s++) {
      assertMapsAgree(tolerance, a.snapshots().get(s).maps(), b.snapshots().get(s).maps(),
          what + " snapshot " + a.snapshots().get(s).label());
    }
  }

  /** Asserts that two results are the same bit for bit, but for their wall time. */
  static void assertIdentical(ExplainEvent.Result a, ExplainEvent.Result b, String what) {
    assertEquals(a.values(), b.values(), what + ": values");
    assertEquals(a.provenance(), b.provenance(), what + ": provenance");
    assertEquals(a.passes(), b.passes(), what + ": passes");
    assertMapsIdentical(a.maps(), b.maps(), what);
    assertEquals(a.snapshots().size(), b.snapshots().size(), what + ": snapshots");
    for (int s = 0; s < a.snapshots().size(); s++) {
      assertEquals(a.snapshots().get(s).values(), b.snapshots().get(s).values(), what);
      assertMapsIdentical(a.snapshots().get(s).maps(), b.snapshots().get(s).maps(), what);
    }
    assertEquals(a.curves().size(), b.curves().size(), what + ": curves");
    for (int c = 0; c < a.curves().size(); c++) {
      assertTrue(java.util.Arrays.equals(a.curves().get(c).y(), b.curves().get(c).y()),
          what + ": curve " + a.curves().get(c).name());
    }
  }

  private static void assertMapsIdentical(List<SaliencyMap> a, List<SaliencyMap> b,
      String what) {
    assertEquals(a.size(), b.size(), what + ": maps");
    for (int m = 0; m < a.size(); m++) {
      assertEquals(a.get(m).name(), b.get(m).name(), what);
      assertTrue(java.util.Arrays.equals(a.get(m).tensor().data(), b.get(m).tensor().data()),
          what + ": map " + a.get(m).name());
    }
  }

  private static void assertMapsAgree(BatchTolerance tolerance, List<SaliencyMap> a,
      List<SaliencyMap> b, String what) {
    assertEquals(a.stream().map(SaliencyMap::name).toList(),
        b.stream().map(SaliencyMap::name).toList(), what + ": map names");
    for (int m = 0; m < a.size(); m++) {
      float[] x = a.get(m).tensor().data();
      float[] y = b.get(m).tensor().data();
      if (!tolerance.mapsAgree(a.get(m).name(), x, y)) {
        fail(what + ": map " + a.get(m).name() + " differs by "
            + BatchTolerance.mapDifference(x, y) + " of its scale");
      }
    }
  }
}
