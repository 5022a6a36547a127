package dev.salient.tools.bench;

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
import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.util.CpuAffinity;
import dev.salient.server.util.ResidentMemory;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.protobuf.ProtoUtils;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code video.30fps}: a live stream of frames paced at the source rate through ExplainVideo
 * (vanilla, latest-frame-wins), measured from the client: output fps, end-to-end latency
 * percentiles, drops, the worker's queue and the process's memory at start and end.
 *
 * <p>The latency's baseline is the raw engine's time for one frame (forward + input gradient,
 * batch 1) when it is fed frames at the stream's rate, measured on an engine of its own just
 * before and just after the stream ({@code engine.frame_ms_paced}). A frame 33 ms after the last
 * finds the engine's weights, buffers and code gone from the core's caches (on a shared host
 * they are evicted within 3–10 ms whether the core sleeps or spins), so the raw engine takes
 * longer per frame than in a tight loop and no server can do better without a second pass per
 * frame. The ratio to the tight loop ({@code engine.frame_ms}) is reported beside it.
 *
 * <p>The frames go through a plain grpc-java call on a direct executor, the thinnest client Java
 * has (as a latency-minded client in any language would be): the Pekko gRPC client's stream
 * stages add thread hand-offs per frame on the cores the server uses too. Stats still go through
 * the Pekko gRPC client.
 */
final class VideoBench {

  /** Waits until the JIT compilers have settled (Bench's warm-up check). */
  interface Settle {
    void await() throws InterruptedException;
  }

  /** Where measurements go (Bench's JSON lines). */
  interface Emitter {
    void emit(String bench, String model, double value, String unit, String baseline,
        double baselineValue, ObjectNode extra);
  }

  private static final Logger LOG = LoggerFactory.getLogger(VideoBench.class);
  private static final int DISTINCT_FRAMES = 30;
  /** Frame rate of the warm-up stream: several times 30 fps, within one engine's pace. */
  static final double WARMUP_FPS = 200;

  private static final MethodDescriptor<VideoFrame, FrameExplanation> EXPLAIN_VIDEO =
      MethodDescriptor.<VideoFrame, FrameExplanation>newBuilder()
          .setType(MethodDescriptor.MethodType.BIDI_STREAMING)
          .setFullMethodName(
              MethodDescriptor.generateFullMethodName("salient.v1.Explainer", "ExplainVideo"))
          .setRequestMarshaller(ProtoUtils.marshaller(VideoFrame.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(FrameExplanation.getDefaultInstance()))
          .build();

  private final ObjectMapper mapper = new ObjectMapper();
  private final GrpcClientSettings settings;
  private final ActorSystem<Void> clientSystem;
  private final Emitter out;
  private final Settle settle;
  private final String host;
  private final int port;
  private final List<Integer> engineCores;

  /**
   * A bench against the server at {@code host}:{@code port}, which {@code settings} reach too;
   * the raw engine runs on {@code engineCores} as the server's engines do (any core if empty).
   */
  VideoBench(String host, int port, GrpcClientSettings settings, ActorSystem<Void> clientSystem,
      List<Integer> engineCores, Settle settle, Emitter out) {
    this.engineCores = List.copyOf(engineCores);
    this.settle = settle;
    this.host = host;
    this.port = port;
    this.settings = settings;
    this.clientSystem = clientSystem;
    this.out = out;
  }

  /** What one paced stream measured. */
  record Run(int framesIn, int explained, int dropped, double[] latenciesMs,
      double[] serverLatenciesMs, double seconds, int maxQueueDepth) {}

  /**
   * Streams {@code seconds} of frames at {@code fps} after a warm-up of {@code warmupFrames}
   * frames at {@value #WARMUP_FPS} fps, and emits the results against the raw engine's time per
   * frame at that rate, and beside {@code tightLoopMillis}, its time per frame in a tight loop.
   */
  void run(String label, ModelPackage model, double fps, double seconds, double tightLoopMillis,
      int warmupFrames) throws Exception {
    List<VideoFrame> frames = frames(model);
    int rawFrames = (int) Math.max(30, Math.min(fps * 10, fps * seconds / 3));
    ExplainerClient client = ExplainerClient.create(settings, clientSystem);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress(host, port).usePlaintext().directExecutor().build();
    try {
      // The JIT compiles a method with its optimising compiler after thousands of calls: at 30
      // fps the video path (the HTTP/2 stream, the session, the worker, the method) gets there
      // only after minutes of streaming, and until then every step outside the pass takes about
      // twice as long. Measure the steady state of a server that has streamed a while.
      if (warmupFrames > 0) {
        stream(model, frames, WARMUP_FPS, warmupFrames / WARMUP_FPS, client, channel);
      }
      settle.await();
      // The raw engine runs just before and just after the stream, outside its memory window.
      double[] rawBefore = rawEngineFrames(model, fps, rawFrames, engineCores);
      System.gc();
      long heapStart = heapUsedAfterGc();
      long offHeapStart = ResidentMemory.bytes() - heapCommitted();
      StatsResponse before = stats(client);
      Run run = stream(model, frames, fps, seconds, client, channel);
      StatsResponse after = stats(client);
      long heapEnd = heapUsedAfterGc();
      long offHeapEnd = ResidentMemory.bytes() - heapCommitted();
      int queueAfter = queueDepth(after);
      double[] rawAfter = rawEngineFrames(model, fps, rawFrames, engineCores);
      double pacedBefore = Bench.median(rawBefore);
      double pacedAfter = Bench.median(rawAfter);
      double[] rawAll = Arrays.copyOf(rawBefore, rawBefore.length + rawAfter.length);
      System.arraycopy(rawAfter, 0, rawAll, rawBefore.length, rawAfter.length);
      double pacedMillis = Bench.median(rawAll);
      if (Math.abs(pacedAfter / pacedBefore - 1) > 0.2) {
        LOG.warn("the raw engine took {} ms a frame before the video stream and {} ms after it: "
            + "the machine's speed changed during the stream (other load on the host?); run it "
            + "again when the machine is quiet", round(pacedBefore), round(pacedAfter));
      }
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
          .put("seconds", round(run.seconds()))
          .put("engine_cores", engineCores.isEmpty() ? "any" : engineCores.toString());
      out.emit(bench, label, outputFps, "fps", "input_fps", fps, extra);
      out.emit("engine.frame_ms_paced", label, pacedMillis, "ms", "engine.frame_ms",
          tightLoopMillis, mapper.createObjectNode().put("fps", fps)
              .put("frames", rawAll.length).put("before_ms", round(pacedBefore))
              .put("after_ms", round(pacedAfter)));
      out.emit(bench + ".p50_ms", label, p50, "ms", "engine.frame_ms_paced", pacedMillis,
          mapper.createObjectNode().put("tight_loop_ms", round(tightLoopMillis))
              .put("ratio_to_tight_loop", round(p50 / tightLoopMillis)));
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
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }

  Run stream(ModelPackage model, List<VideoFrame> frames, double fps, double seconds,
      ExplainerClient client, ManagedChannel channel) throws Exception {
    int count = (int) Math.round(fps * seconds);
    long[] sentNanos = new long[count + 1];
    List<Double> latencies = Collections.synchronizedList(new ArrayList<>(count));
    List<Double> serverLatencies = Collections.synchronizedList(new ArrayList<>(count));
    AtomicInteger explained = new AtomicInteger();
    AtomicInteger dropped = new AtomicInteger();
    AtomicLong lastAnswer = new AtomicLong();
    AtomicInteger maxQueue = new AtomicInteger();
    CompletableFuture<Status> closed = new CompletableFuture<>();
    var sampler = Source.tick(Duration.ZERO, Duration.ofMillis(500), "tick")
        .mapAsync(1, t -> client.stats(StatsRequest.getDefaultInstance()))
        .to(Sink.foreach(s -> maxQueue.accumulateAndGet(queueDepth(s), Math::max)))
        .run(clientSystem);
    // One thread makes every call on the ClientCall (it is not thread-safe); answers arrive on
    // the channel's network thread (direct executor) and are only recorded there.
    ScheduledExecutorService pacer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "video-bench-pacer");
      t.setDaemon(true);
      return t;
    });
    ClientCall<VideoFrame, FrameExplanation> call =
        channel.newCall(EXPLAIN_VIDEO, CallOptions.DEFAULT);
    long start = System.nanoTime();
    try {
      pacer.submit(() -> {
        call.start(new ClientCall.Listener<>() {
          @Override
          public void onMessage(FrameExplanation a) {
            long now = System.nanoTime();
            lastAnswer.set(now);
            if (a.hasExplained()) {
              explained.incrementAndGet();
              latencies.add((now - sentNanos[(int) a.getSequence()]) / 1e6);
              serverLatencies.add(a.getServerLatencyUs() / 1e3);
            } else {
              dropped.incrementAndGet();
            }
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            closed.complete(status);
          }
        }, new Metadata());
        call.request(Integer.MAX_VALUE);
        call.sendMessage(VideoFrame.newBuilder().setSession(VideoSession.newBuilder()
            .setModel(model.name()).setMethod("vanilla")).build());
      }).get(10, TimeUnit.SECONDS);
      AtomicInteger next = new AtomicInteger(1);
      long intervalNanos = Math.round(1e9 / fps);
      pacer.scheduleAtFixedRate(() -> {
        int i = next.getAndIncrement();
        if (i > count) {
          if (i == count + 1) {
            call.halfClose();
          }
          return;
        }
        VideoFrame frame = frames.get(i % frames.size()).toBuilder().setSequence(i)
            .setCaptureTimeUs(Math.round(i * 1e6 / fps)).build();
        sentNanos[i] = System.nanoTime();
        call.sendMessage(frame);
      }, intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
      Status status = closed.get((long) (seconds * 3 + 60), TimeUnit.SECONDS);
      if (!status.isOk()) {
        throw status.asException();
      }
    } catch (java.util.concurrent.TimeoutException e) {
      pacer.submit(() -> call.cancel("the video bench timed out", e)).get(5, TimeUnit.SECONDS);
      throw e;
    } finally {
      pacer.shutdownNow();
      sampler.cancel();
    }
    return new Run(count, explained.get(), dropped.get(),
        latencies.stream().mapToDouble(Double::doubleValue).toArray(),
        serverLatencies.stream().mapToDouble(Double::doubleValue).toArray(),
        (lastAnswer.get() - start) / 1e9, maxQueue.get());
  }

  /**
   * The raw engine fed {@code count} frames at {@code fps}: one batch-1 gradient pass per frame
   * interval on an engine of its own (loaded, run and closed on one thread, as a worker's is),
   * idle between frames as a live stream leaves it. Returns each pass's milliseconds.
   */
  private static double[] rawEngineFrames(ModelPackage model, double fps, int count,
      List<Integer> cores) throws Exception {
    ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "video-bench-raw-engine");
      t.setDaemon(true);
      return t;
    });
    try {
      return thread.submit(() -> {
        if (!cores.isEmpty()) {
          CpuAffinity.pinCurrentThread(cores);
        }
        try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(model))) {
          float[] image = Bench.syntheticImage(model.input(), 0);
          Pass pass = Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {0},
              model.numClasses());
          for (int i = 0; i < 50; i++) {
            engine.run(model.name(), pass);
          }
          double[] millis = new double[count];
          long interval = Math.round(1e9 / fps);
          long next = System.nanoTime();
          for (int i = 0; i < count; i++) {
            next += interval;
            TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
            long start = System.nanoTime();
            engine.run(model.name(), pass);
            millis[i] = (System.nanoTime() - start) / 1e6;
          }
          return millis;
        }
      }).get();
    } finally {
      thread.shutdown();
    }
  }

  /** Distinct frames as raw tensors in the model's input size, as the video client sends them. */
  static List<VideoFrame> frames(ModelPackage model) {
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
