package dev.salient.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Tensor;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.grpc.WorkerStats;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.util.ResidentMemory;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.ThrottleMode;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * {@code video.30fps}: a live stream of frames paced at the source rate through ExplainVideo
 * (vanilla, latest-frame-wins), measured from the client: output fps, end-to-end latency
 * percentiles, drops, the worker's queue and the process's memory at start and end. The baseline
 * is the raw engine's time for one frame (forward + input gradient, batch 1).
 */
final class VideoBench {

  /** Where measurements go (Bench's JSON lines). */
  interface Emitter {
    void emit(String bench, String model, double value, String unit, String baseline,
        double baselineValue, ObjectNode extra);
  }

  private static final int DISTINCT_FRAMES = 30;

  private final ObjectMapper mapper = new ObjectMapper();
  private final GrpcClientSettings settings;
  private final ActorSystem<Void> clientSystem;
  private final Emitter out;

  VideoBench(GrpcClientSettings settings, ActorSystem<Void> clientSystem, Emitter out) {
    this.settings = settings;
    this.clientSystem = clientSystem;
    this.out = out;
  }

  /** What one paced stream measured. */
  private record Run(int framesIn, int explained, int dropped, double[] latenciesMs,
      double[] serverLatenciesMs, double seconds, int maxQueueDepth) {}

  /**
   * Streams {@code seconds} of frames at {@code fps} after a warm-up, and emits the results
   * against {@code rawFrameMillis}, the engine's time per frame.
   */
  void run(String label, ModelPackage model, double fps, double seconds, double rawFrameMillis)
      throws Exception {
    List<VideoFrame> frames = frames(model);
    ExplainerClient client = ExplainerClient.create(settings, clientSystem);
    try {
      // Warm the bidirectional path (the JIT, the stream stages) before measuring.
      stream(client, model, frames, fps, Math.min(10, Math.max(2, seconds / 6)));
      System.gc();
      long heapStart = heapUsedAfterGc();
      long offHeapStart = ResidentMemory.bytes() - heapCommitted();
      StatsResponse before = stats(client);
      Run run = stream(client, model, frames, fps, seconds);
      StatsResponse after = stats(client);
      long heapEnd = heapUsedAfterGc();
      long offHeapEnd = ResidentMemory.bytes() - heapCommitted();
      int queueAfter = queueDepth(after);
      double[] sorted = run.latenciesMs().clone();
      Arrays.sort(sorted);
      double p50 = percentile(sorted, 0.50);
      double p99 = percentile(sorted, 0.99);
      double[] server = run.serverLatenciesMs().clone();
      Arrays.sort(server);
      double outputFps = run.explained() / run.seconds();
      String bench = "video." + Math.round(fps) + "fps";
      ObjectNode extra = mapper.createObjectNode()
          .put("frames_in", run.framesIn()).put("frames_out", run.explained())
          .put("dropped", run.dropped()).put("p50_ms", round(p50)).put("p99_ms", round(p99))
          .put("server_p50_ms", round(percentile(server, 0.5)))
          .put("server_p99_ms", round(percentile(server, 0.99)))
          .put("server_pass_mean_ms", round(passMeanMillis(before, after)))
          .put("max_queue_depth", run.maxQueueDepth()).put("queue_depth_after", queueAfter)
          .put("off_heap_start_mb", round(offHeapStart / 1e6))
          .put("off_heap_end_mb", round(offHeapEnd / 1e6))
          .put("heap_start_mb", round(heapStart / 1e6)).put("heap_end_mb", round(heapEnd / 1e6))
          .put("seconds", round(run.seconds()));
      out.emit(bench, label, outputFps, "fps", "input_fps", fps, extra);
      out.emit(bench + ".p50_ms", label, p50, "ms", "engine.frame_ms", rawFrameMillis, null);
      out.emit(bench + ".p99_ms", label, p99, "ms", bench + ".p50_ms", p50, null);
      out.emit(bench + ".dropped", label, run.dropped(), "frames", "frames_in", run.framesIn(),
          null);
      // A leak grows the live heap after a full GC, or the resident memory outside the heap
      // (native tensors, threads); whole RSS also moves as the GC commits and frees heap.
      out.emit(bench + ".heap_growth", label, (heapEnd - heapStart) / 1e6, "MB", "heap_start",
          heapStart / 1e6, null);
      out.emit(bench + ".off_heap_growth", label, (offHeapEnd - offHeapStart) / 1e6, "MB",
          "off_heap_start", offHeapStart / 1e6, null);
    } finally {
      client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }

  private Run stream(ExplainerClient client, ModelPackage model, List<VideoFrame> frames,
      double fps, double seconds) throws Exception {
    int count = (int) Math.round(fps * seconds);
    long[] sentNanos = new long[count + 1];
    List<Double> latencies = new ArrayList<>(count);
    List<Double> serverLatencies = new ArrayList<>(count);
    AtomicInteger explained = new AtomicInteger();
    AtomicInteger dropped = new AtomicInteger();
    AtomicLong lastAnswer = new AtomicLong();
    AtomicInteger maxQueue = new AtomicInteger();
    VideoFrame open = VideoFrame.newBuilder().setSession(VideoSession.newBuilder()
        .setModel(model.name()).setMethod("vanilla")).build();
    Source<VideoFrame, ?> paced = Source.range(1, count)
        .throttle(1, Duration.ofNanos((long) (1e9 / fps)), 1, ThrottleMode.shaping())
        .map(i -> {
          sentNanos[i] = System.nanoTime();
          return frames.get(i % frames.size()).toBuilder().setSequence(i)
              .setCaptureTimeUs(Math.round(i * 1e6 / fps)).build();
        });
    var sampler = Source.tick(Duration.ZERO, Duration.ofMillis(500), "tick")
        .mapAsync(1, t -> client.stats(StatsRequest.getDefaultInstance()))
        .to(Sink.foreach(s -> maxQueue.accumulateAndGet(queueDepth(s), Math::max)))
        .run(clientSystem);
    long start = System.nanoTime();
    try {
      client.explainVideo(Source.single(open).concat(paced))
          .runWith(Sink.foreach((FrameExplanation a) -> {
            long now = System.nanoTime();
            lastAnswer.set(now);
            if (a.hasExplained()) {
              explained.incrementAndGet();
              latencies.add((now - sentNanos[(int) a.getSequence()]) / 1e6);
              serverLatencies.add(a.getServerLatencyUs() / 1e3);
            } else {
              dropped.incrementAndGet();
            }
          }), clientSystem)
          .toCompletableFuture().get((long) (seconds * 3 + 60), TimeUnit.SECONDS);
    } finally {
      sampler.cancel();
    }
    return new Run(count, explained.get(), dropped.get(),
        latencies.stream().mapToDouble(Double::doubleValue).toArray(),
        serverLatencies.stream().mapToDouble(Double::doubleValue).toArray(),
        (lastAnswer.get() - start) / 1e9, maxQueue.get());
  }

  /** Distinct frames as raw tensors in the model's input size, as the video client sends them. */
  private static List<VideoFrame> frames(ModelPackage model) {
    List<VideoFrame> frames = new ArrayList<>();
    for (int seed = 0; seed < DISTINCT_FRAMES; seed++) {
      float[] pixels = Bench.syntheticImage(model.input(), seed);
      ByteBuffer bytes = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      bytes.asFloatBuffer().put(pixels);
      Tensor tensor = Tensor.newBuilder().addShape(model.input().channels())
          .addShape(model.input().height()).addShape(model.input().width())
          .setData(ByteString.copyFrom(bytes.array())).build();
      frames.add(VideoFrame.newBuilder().setImage(Image.newBuilder().setTensor(tensor)).build());
    }
    return frames;
  }

  private static StatsResponse stats(ExplainerClient client) throws Exception {
    return client.stats(StatsRequest.getDefaultInstance()).toCompletableFuture()
        .get(10, TimeUnit.SECONDS);
  }

  /** Jobs waiting for their next pass, on all workers together. */
  private static int queueDepth(StatsResponse stats) {
    return stats.getWorkersList().stream().mapToInt(WorkerStats::getQueueDepth).sum();
  }

  /**
   * The mean time of the server's engine calls between the two snapshots: what the pass took in
   * the stream itself, beside the baseline's tight loop measured before the server started.
   */
  private static double passMeanMillis(StatsResponse before, StatsResponse after) {
    double millis = 0;
    long calls = 0;
    for (int w = 0; w < after.getWorkersCount(); w++) {
      WorkerStats then = before.getWorkers(w);
      WorkerStats now = after.getWorkers(w);
      millis += now.getEngineCalls() * now.getPassMeanMs()
          - then.getEngineCalls() * then.getPassMeanMs();
      calls += now.getEngineCalls() - then.getEngineCalls();
    }
    return calls == 0 ? Double.NaN : millis / calls;
  }

  private static long heapUsedAfterGc() {
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  private static long heapCommitted() {
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted();
  }

  private static double percentile(double[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
