package dev.salient.server.worker;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The scheduler's counters and each worker's batching statistics, kept in a Micrometer registry
 * (so any Micrometer backend can export them) and readable as a plain {@link Snapshot}.
 */
public final class SchedulerMetrics {
  private final MeterRegistry registry;
  private final Counter admitted;
  private final Counter rejected;
  private final Map<Outcome, Counter> ended = new ConcurrentHashMap<>();
  private final Map<String, WorkerMeters> workers = new ConcurrentHashMap<>();
  private final Map<String, ModelMeters> models = new ConcurrentHashMap<>();
  private final Counter videoSessions;
  private final AtomicInteger videoSessionsActive = new AtomicInteger();
  private final Map<String, Counter> videoFrames = new ConcurrentHashMap<>();

  /** What became of a frame of a video stream. */
  public enum FrameOutcome {
    EXPLAINED,
    SUPERSEDED,
    SERVER_BUSY
  }

  /** How an admitted job ended. */
  public enum Outcome {
    COMPLETED,
    CANCELLED,
    DEADLINE_EXCEEDED,
    FAILED
  }

  /** Metrics in {@code registry}. */
  public SchedulerMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.admitted = Counter.builder("salient.jobs.admitted").register(registry);
    this.rejected = Counter.builder("salient.jobs.rejected")
        .description("requests refused because the server was full").register(registry);
    for (Outcome o : Outcome.values()) {
      ended.put(o, Counter.builder("salient.jobs.ended")
          .tag("outcome", o.name().toLowerCase(java.util.Locale.ROOT)).register(registry));
    }
    videoSessions = Counter.builder("salient.video.sessions")
        .description("video streams opened").register(registry);
    registry.gauge("salient.video.sessions.active", videoSessionsActive);
    for (FrameOutcome o : FrameOutcome.values()) {
      String tag = o.name().toLowerCase(java.util.Locale.ROOT);
      videoFrames.put(tag, Counter.builder("salient.video.frames").tag("outcome", tag)
          .register(registry));
    }
  }

  /** A video stream opened. */
  public void videoSessionOpened() {
    videoSessions.increment();
    videoSessionsActive.incrementAndGet();
  }

  /** A video stream ended. */
  public void videoSessionClosed() {
    videoSessionsActive.decrementAndGet();
  }

  /** A frame of a video stream was answered. */
  public void videoFrame(FrameOutcome outcome) {
    videoFrames.get(outcome.name().toLowerCase(java.util.Locale.ROOT)).increment();
  }

  void admitted() {
    admitted.increment();
  }

  void rejected() {
    rejected.increment();
  }

  void ended(Outcome outcome) {
    ended.get(outcome).increment();
  }

  /** The meters of worker {@code name}, created on first use. */
  WorkerMeters worker(String name, String device, int maxBatch) {
    return workers.computeIfAbsent(name,
        n -> new WorkerMeters(registry, n, device, maxBatch, this::model));
  }

  /** The meters of model {@code name} (over every worker), created on first use. */
  ModelMeters model(String name) {
    return models.computeIfAbsent(name, n -> new ModelMeters(registry, n));
  }

  /** The counters now. */
  public Snapshot snapshot() {
    return new Snapshot(
        (long) admitted.count(),
        (long) rejected.count(),
        (long) ended.get(Outcome.COMPLETED).count(),
        (long) ended.get(Outcome.CANCELLED).count(),
        (long) ended.get(Outcome.DEADLINE_EXCEEDED).count(),
        (long) ended.get(Outcome.FAILED).count(),
        workers.values().stream().map(WorkerMeters::snapshot)
            .sorted(java.util.Comparator.comparing(WorkerSnapshot::name)).toList(),
        new VideoSnapshot((long) videoSessions.count(), videoSessionsActive.get(),
            frames(FrameOutcome.EXPLAINED), frames(FrameOutcome.SUPERSEDED),
            frames(FrameOutcome.SERVER_BUSY)),
        modelSnapshots());
  }

  private List<ModelSnapshot> modelSnapshots() {
    long total = models.values().stream().mapToLong(m -> m.engineNanos.get()).sum();
    return models.values().stream().map(m -> m.snapshot(total))
        .sorted(java.util.Comparator.comparing(ModelSnapshot::name)).toList();
  }

  private long frames(FrameOutcome outcome) {
    return (long) videoFrames.get(outcome.name().toLowerCase(java.util.Locale.ROOT)).count();
  }

  /** Scheduler counters and the workers' statistics. */
  public record Snapshot(
      long admitted,
      long rejected,
      long completed,
      long cancelled,
      long deadlineExceeded,
      long failed,
      List<WorkerSnapshot> workers,
      VideoSnapshot video,
      List<ModelSnapshot> models) {}

  /**
   * One model's scheduling over every worker: how long its passes waited for an engine call
   * (from ready to the call's start), its calls' times, and its share of all models' engine time
   * since the server started.
   */
  public record ModelSnapshot(
      String name,
      long engineCalls,
      long images,
      double queueWaitP50Millis,
      double queueWaitP99Millis,
      double passMeanMillis,
      double passP99Millis,
      double engineShare) {}

  /** Video streams and what became of their frames. */
  public record VideoSnapshot(long sessionsOpened, int sessionsActive, long framesExplained,
      long framesSuperseded, long framesServerBusy) {}

  /** One worker's statistics; {@code batchSizeCounts[b]} engine calls had {@code b} images. */
  public record WorkerSnapshot(
      String name,
      String device,
      int activeJobs,
      int queueDepth,
      long engineCalls,
      long images,
      long[] batchSizeCounts,
      double passMeanMillis,
      double passP50Millis,
      double passP99Millis,
      long restarts) {}

  /** The meters of one worker. Updated from the worker's actor only. */
  static final class WorkerMeters {
    private final String name;
    private final String device;
    final AtomicInteger activeJobs = new AtomicInteger();
    final AtomicInteger queueDepth = new AtomicInteger();
    private final AtomicLong images = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong();
    private final AtomicLongArray batchSizes;
    private final DistributionSummary batchSize;
    private final Timer passLatency;
    private final java.util.function.Function<String, ModelMeters> models;

    WorkerMeters(MeterRegistry registry, String name, String device, int maxBatch,
        java.util.function.Function<String, ModelMeters> models) {
      this.name = name;
      this.models = models;
      this.device = device;
      this.batchSizes = new AtomicLongArray(maxBatch + 1);
      List<Tag> tags = List.of(Tag.of("worker", name), Tag.of("device", device));
      registry.gauge("salient.worker.jobs.active", tags, activeJobs);
      registry.gauge("salient.worker.queue.depth", tags, queueDepth);
      FunctionCounter.builder("salient.worker.images", images, AtomicLong::get).tags(tags)
          .description("images put through the engine").register(registry);
      FunctionCounter.builder("salient.worker.restarts", restarts, AtomicLong::get).tags(tags)
          .description("engine reloads after a failed engine call").register(registry);
      this.batchSize = DistributionSummary.builder("salient.worker.batch.size").tags(tags)
          .description("images per engine call").serviceLevelObjectives(powersOfTwo(maxBatch))
          .register(registry);
      this.passLatency = Timer.builder("salient.worker.pass.latency").tags(tags)
          .description("time of one engine call (its sum over time: the engine's busy time)")
          .publishPercentiles(0.5, 0.99).publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(1))
          .register(registry);
    }

    /** Bucket bounds 1, 2, 4, ... up to {@code max} (and max itself). */
    private static double[] powersOfTwo(int max) {
      List<Double> bounds = new ArrayList<>();
      for (int b = 1; b < max; b *= 2) {
        bounds.add((double) b);
      }
      bounds.add((double) max);
      return bounds.stream().mapToDouble(Double::doubleValue).toArray();
    }

    void engineCall(int batchSize, long nanos) {
      images.addAndGet(batchSize);
      batchSizes.incrementAndGet(Math.min(batchSize, batchSizes.length() - 1));
      this.batchSize.record(batchSize);
      passLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** The meters of model {@code model}, shared by every worker. */
    ModelMeters model(String model) {
      return models.apply(model);
    }

    void restarted() {
      restarts.incrementAndGet();
    }

    WorkerSnapshot snapshot() {
      HistogramSnapshot h = passLatency.takeSnapshot();
      double p50 = 0;
      double p99 = 0;
      for (ValueAtPercentile v : h.percentileValues()) {
        if (v.percentile() == 0.5) {
          p50 = v.value(TimeUnit.MILLISECONDS);
        } else if (v.percentile() == 0.99) {
          p99 = v.value(TimeUnit.MILLISECONDS);
        }
      }
      long[] sizes = new long[batchSizes.length()];
      for (int i = 0; i < sizes.length; i++) {
        sizes[i] = batchSizes.get(i);
      }
      return new WorkerSnapshot(name, device, activeJobs.get(), queueDepth.get(),
          passLatency.count(), images.get(), sizes, h.mean(TimeUnit.MILLISECONDS), p50, p99,
          restarts.get());
    }
  }

  /** The meters of one model, over every worker. */
  static final class ModelMeters {
    private final String name;
    private final AtomicLong engineNanos = new AtomicLong();
    private final AtomicLong images = new AtomicLong();
    private final Timer queueWait;
    private final Timer passTime;

    ModelMeters(MeterRegistry registry, String name) {
      this.name = name;
      List<Tag> tags = List.of(Tag.of("model", name));
      this.queueWait = Timer.builder("salient.model.queue.wait").tags(tags)
          .description("time a pass of the model waited from ready to the start of its call")
          .publishPercentiles(0.5, 0.99).publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofNanos(100_000))
          .maximumExpectedValue(Duration.ofMinutes(1)).register(registry);
      this.passTime = Timer.builder("salient.model.pass.latency").tags(tags)
          .description("time of one engine call on the model (its sum: the model's engine time)")
          .publishPercentiles(0.5, 0.99).publishPercentileHistogram()
          .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(1))
          .register(registry);
      FunctionCounter.builder("salient.model.images", images, AtomicLong::get).tags(tags)
          .description("images of the model put through an engine").register(registry);
    }

    void queueWait(long nanos) {
      queueWait.record(nanos, TimeUnit.NANOSECONDS);
    }

    void engineCall(int images, long nanos) {
      this.images.addAndGet(images);
      engineNanos.addAndGet(nanos);
      passTime.record(nanos, TimeUnit.NANOSECONDS);
    }

    ModelSnapshot snapshot(long allEngineNanos) {
      HistogramSnapshot wait = queueWait.takeSnapshot();
      HistogramSnapshot pass = passTime.takeSnapshot();
      return new ModelSnapshot(name, passTime.count(), images.get(),
          percentile(wait, 0.5), percentile(wait, 0.99), pass.mean(TimeUnit.MILLISECONDS),
          percentile(pass, 0.99),
          allEngineNanos == 0 ? 0 : (double) engineNanos.get() / allEngineNanos);
    }

    private static double percentile(HistogramSnapshot h, double p) {
      for (ValueAtPercentile v : h.percentileValues()) {
        if (v.percentile() == p) {
          return v.value(TimeUnit.MILLISECONDS);
        }
      }
      return 0;
    }
  }
}
