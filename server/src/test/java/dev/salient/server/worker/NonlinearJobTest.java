package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.method.NonlinearSaliency;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A nonlinear trajectory as a job of a device worker on the real engine: order and cancel. */
class NonlinearJobTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final Map<String, String> LONG = Map.of("steps_per_level", "500");
  static ModelPackage model;
  static DeviceWorker.DeviceRuntime runtime;
  static final AtomicInteger engineCalls = new AtomicInteger();
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
    DeviceWorker.DeviceRuntime countingRuntime = new DeviceWorker.DeviceRuntime("cpu-0", "cpu",
        () -> counting, counting, runtime.thread());
    worker = testKit.spawn(DeviceWorker.create(countingRuntime, new WorkerSettings(8,
        Duration.ofMillis(2), 0.1, Duration.ofMillis(100), Duration.ofMillis(10),
        Duration.ofMillis(100)),
        new SchedulerMetrics(new SimpleMeterRegistry())));
  }

  @AfterAll
  static void stop() {
    testKit.shutdownTestKit();
  }

  @Test
  void framesStreamInStepOrderAndACancelledTrajectoryRunsNoFurtherPass() throws Exception {
    TestProbe<ExplainSupervisor.Command> ended = testKit.createTestProbe();
    RecordingSink sink = new RecordingSink();
    ExplainOrder order = new ExplainOrder("nl", model.name(), TestImages.sample(5),
        NonlinearSaliency.NAME, LONG, new TargetSpec.Rank(2), 3, 1, false, false, Long.MAX_VALUE, ExplainOrder.ANONYMOUS);
    Job job = new Job(1, order, model, new NonlinearSaliency().prepare(LONG), sink);
    worker.tell(new DeviceWorker.StartJob(job, ended.getRef()));

    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (frames(sink).size() < 5 && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    sink.cancel();
    ended.expectMessageClass(ExplainSupervisor.JobEnded.class);
    int callsAtEnd = engineCalls.get();
    Thread.sleep(300);

    // A pass already handed to the engine thread when the cancel arrived may still start; no
    // pass after that one.
    assertTrue(engineCalls.get() <= callsAtEnd + 1,
        "no engine call after the job ended: " + callsAtEnd + " then " + engineCalls.get());
    assertTrue(callsAtEnd < 8 * 500, "stopped long before its 4001 passes: " + callsAtEnd);
    assertInstanceOf(ExplainEvent.Started.class, sink.events.get(0));
    assertTrue(sink.events.stream().noneMatch(e -> e instanceof ExplainEvent.Result));
    List<ExplainEvent.Frame> frames = frames(sink);
    assertTrue(frames.size() >= 5);
    for (int i = 0; i < frames.size(); i++) {
      assertEquals(i, frames.get(i).step(), "frames in step order");
    }
  }

  private static List<ExplainEvent.Frame> frames(RecordingSink sink) {
    return sink.events.stream().filter(e -> e instanceof ExplainEvent.Frame)
        .map(e -> (ExplainEvent.Frame) e).toList();
  }
}
