package dev.salient.server.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.VanillaGradient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The order in which a worker's ready jobs get engine calls: fair between models by engine time
 * and share, round-robin between clients, priority with aging. Engine time is charged by the
 * test, and time is given to the queue, so nothing here depends on the machine's speed.
 */
class FairQueueTest {
  static final long MS = 1_000_000;
  static ModelPackage large;
  static ModelPackage small;
  long nextId = 1;

  @BeforeAll
  static void writeModelPackages(@TempDir Path dir) throws Exception {
    large = FakeEngine.modelPackage(dir.resolve("large"), "large");
    small = FakeEngine.modelPackage(dir.resolve("small"), "small");
  }

  private Job job(ModelPackage model, String client, boolean liveFrame) {
    return job(model, client, 0, liveFrame);
  }

  private Job job(ModelPackage model, String client, int priority, boolean liveFrame) {
    ExplainOrder order = new ExplainOrder("r" + nextId, model.name(),
        new float[] {0.1f, 0.2f, 0.3f, 0.4f}, "vanilla", Map.of(), new TargetSpec.Predicted(), 2,
        1, false, false, Long.MAX_VALUE, client, false, priority, liveFrame);
    return new Job(nextId++, order, model, new VanillaGradient().prepare(Map.of()),
        new RecordingSink());
  }

  private Job job(ModelPackage model, String client) {
    return job(model, client, false);
  }

  private static FairQueue queue(Map<String, SharingSettings.ModelShare> models) {
    return new FairQueue(new SharingSettings(Duration.ofMillis(50), Duration.ofMillis(100), 1, 1,
        models));
  }

  /** The next call of at most {@code rows} images at {@code now}, charged {@code cost}. */
  private static FairQueue.Round run(FairQueue queue, int rows, long now, long cost) {
    FairQueue.Round round = queue.next(model -> rows, now);
    queue.charge(round, round.passes().stream().mapToInt(p -> p.size()).toArray(), cost);
    return round;
  }

  @Test
  void aModelBackFromIdleGoesNextButBanksNoIdleTime() {
    FairQueue queue = queue(Map.of());
    for (int i = 0; i < 5; i++) {
      queue.add(job(large, "a"), 0);
    }
    assertEquals("large", run(queue, 1, 0, 50 * MS).model());
    assertEquals("large", run(queue, 1, 0, 50 * MS).model());
    queue.add(job(small, "b"), 0);
    queue.add(job(small, "b"), 0);

    // The small model idled through 100 ms of the large one's calls: it goes next, but only
    // until it has had as much engine time since it came back.
    List<String> order = new ArrayList<>();
    order.add(run(queue, 1, 0, 60 * MS).model());
    order.add(run(queue, 1, 0, 50 * MS).model());
    order.add(run(queue, 1, 0, 1 * MS).model());

    assertEquals(List.of("small", "large", "small"), order);
  }

  @Test
  void modelsWithWorkWaitingGetEngineTimeInProportionToTheirShares() {
    FairQueue queue = queue(Map.of("small", new SharingSettings.ModelShare(2, 0)));
    for (int i = 0; i < 12; i++) {
      queue.add(job(large, "a"), 0);
      queue.add(job(small, "b"), 0);
    }
    int smallCalls = 0;
    for (int i = 0; i < 9; i++) {
      if (run(queue, 1, 0, 10 * MS).model().equals("small")) {
        smallCalls++;
      }
    }

    assertEquals(6, smallCalls, "two of every three equal calls");
  }

  @Test
  void aCallIsFilledRoundRobinAcrossTheModelsClients() {
    FairQueue queue = queue(Map.of());
    for (int i = 0; i < 4; i++) {
      queue.add(job(small, "flooder"), 0);
    }
    queue.add(job(small, "other"), 0);
    queue.add(job(small, "other"), 0);

    FairQueue.Round round = queue.next(model -> 4, 0);

    assertEquals(List.of("flooder", "other", "flooder", "other"),
        round.jobs().stream().map(Job::client).toList());
  }

  @Test
  void aClientWithLessEngineTimeGoesBeforeAClientFloodingTheQueue() {
    FairQueue queue = queue(Map.of());
    for (int i = 0; i < 10; i++) {
      queue.add(job(small, "flooder"), 0);
    }
    run(queue, 1, 0, 5 * MS);
    queue.add(job(small, "other"), 0);

    assertEquals("other", run(queue, 1, 0, 5 * MS).jobs().get(0).client());
    assertEquals("flooder", run(queue, 1, 0, 5 * MS).jobs().get(0).client());
  }

  @Test
  void aLiveFrameGoesBeforeRequestsOfLowerPriority() {
    FairQueue queue = queue(Map.of());
    queue.add(job(large, "a"), 0);
    queue.add(job(small, "b"), 0);
    queue.add(job(small, "video", true), 0);

    FairQueue.Round round = queue.next(model -> 1, 0);

    assertEquals("video", round.jobs().get(0).client());
  }

  @Test
  void aRequestThatWaitedTheAgingPeriodCompetesWithHigherPrioritiesAsAnEqual() {
    FairQueue queue = queue(Map.of());
    queue.add(job(large, "a"), 0);
    queue.add(job(small, "video", true), 0);
    assertEquals("small", run(queue, 1, 50 * MS, 10 * MS).model(), "before the aging period");
    queue.add(job(small, "video", true), 50 * MS);

    // 100 ms on, the large model's request counts at the video frames' level, and the large
    // model has had less engine time.
    assertEquals("large", run(queue, 1, 100 * MS, 10 * MS).model());
    assertEquals("small", run(queue, 1, 100 * MS, 10 * MS).model());
  }

  @Test
  void aModelsPriorityComesFromTheSharingSettings() {
    FairQueue queue = queue(Map.of("large", new SharingSettings.ModelShare(1, 2)));
    queue.add(job(small, "video", true), 0);
    queue.add(job(large, "a"), 0);

    assertEquals("large", queue.next(model -> 1, 0).model(), "level 2 before the frame's 1");
  }

  @Test
  void aRequestsOwnPriorityCountsAtMostTheMaximumAndCannotJumpAheadOfLiveVideo() {
    FairQueue queue = queue(Map.of());
    queue.add(job(small, "video", true), 0);
    queue.add(job(large, "greedy", 5, false), 0);

    assertEquals("small", queue.next(model -> 1, 0).model(),
        "the request's 5 counts as 1, the frame's level; the frame was ready first");
  }

  @Test
  void aRequestOfNegativePriorityGivesWayToRequestsOfLevelZero() {
    FairQueue queue = queue(Map.of());
    queue.add(job(large, "batch", -1, false), 0);
    queue.add(job(small, "interactive"), 0);

    assertEquals("small", queue.next(model -> 1, 0).model());
  }
}
