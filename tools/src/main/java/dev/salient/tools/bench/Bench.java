package dev.salient.tools.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.sun.management.OperatingSystemMXBean;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Target;
import dev.salient.server.CoreSplit;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelManifest;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.RandomWeights;
import dev.salient.server.engine.builtin.ResNet18;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CommonPool;
import dev.salient.server.util.ResidentMemory;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./salient bench}: the engine alone, then the same work through gRPC on loopback, then
 * iterative jobs run together against the same jobs one after another. Every measurement is a
 * ratio against a baseline measured in the same run, on the same machine.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Measure engine, server and batching throughput; print ratios to baselines.")
public final class Bench implements Callable<Integer> {

  @Option(names = "--json", description = "One JSON object per measurement per line.")
  boolean json;

  @Option(names = "--models", split = ",", defaultValue = "default,resnet18,colour224",
      description = "Models to measure: default, resnet18, colour224 (the repository's "
          + "MobileNetV2-shaped 224-pixel TorchScript fixture) or a model package's directory "
          + "(default: ${DEFAULT-VALUE}).")
  List<String> models;

  @Option(names = "--seconds", defaultValue = "6",
      description = "Measuring time per throughput point, after warm-up (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--clients", split = ",", defaultValue = "1,4,16,64",
      description = "Concurrent gRPC clients to measure (default: ${DEFAULT-VALUE}).")
  List<Integer> clientCounts;

  @Option(names = "--iterative-method", defaultValue = "bim",
      description = "Multi-step method for iterative.16concurrent (default: ${DEFAULT-VALUE}).")
  String iterativeMethod;

  @Option(names = "--iterative-models", split = ",", defaultValue = "default,colour224",
      description = "Models of the measured ones that iterative.16concurrent runs on "
          + "(default: ${DEFAULT-VALUE}).")
  List<String> iterativeModels;

  @Option(names = "--iterative-param",
      description = "Its parameters (default: max_iterations=20, alpha=0.0005: a 20-step BIM).")
  Map<String, String> iterativeParams =
      new LinkedHashMap<>(Map.of("max_iterations", "20", "alpha", "0.0005"));

  @Option(names = "--max-batch", defaultValue = "64",
      description = "Server max-batch during the gRPC runs (default: ${DEFAULT-VALUE}).")
  int maxBatch;

  @Option(names = "--server-cores", defaultValue = "off",
      description = "Server's salient.cpu-affinity.server-cores during the gRPC runs: the "
          + "engines on cores of their own, the first N cores for the rest (default: "
          + "${DEFAULT-VALUE}, or as configured with -D).")
  String serverCores;

  @Option(names = "--max-warmup", defaultValue = "60",
      description = "Longest warm-up of a gRPC measurement while the JIT is still compiling, "
          + "in seconds (default: ${DEFAULT-VALUE}).")
  double maxWarmupSeconds;

  @Option(names = "--video-seconds", defaultValue = "60",
      description = "Seconds of paced video for video.<fps>fps "
          + "(default ${DEFAULT-VALUE}; 0 skips).")
  private double videoSeconds;

  @Option(names = "--video-warmup-frames", defaultValue = "10000",
      description = "Frames streamed at 200 fps before video.<fps>fps, so the JIT has compiled "
          + "the video path as on a server that has streamed for minutes "
          + "(default ${DEFAULT-VALUE}).")
  private int videoWarmupFrames;

  @Option(names = "--video-fps", defaultValue = "30",
      description = "Frame rate of the paced video stream (default ${DEFAULT-VALUE}).")
  private double videoFps;

  @Option(names = "--sharing",
      description = "Only the engine-sharing rows (sharing.*, SharingBench): the default model "
          + "beside colour224, live video beside it, a client beside a flood of long requests.")
  private boolean sharing;

  @Option(names = "--sharing-trials", defaultValue = "2",
      description = "Alone/beside pairs of sharing.small and sharing.large (default "
          + "${DEFAULT-VALUE}).")
  private int sharingTrials;

  @Option(names = "--sharing-large", defaultValue = "resnet18",
      description = "The large model beside the default one in --sharing: resnet18 (random "
          + "weights), colour224, or a model package directory, e.g. the MobileNetV2 of "
          + "tools/scripts/export_mobilenet_v2.py (default: ${DEFAULT-VALUE}).")
  private String sharingLarge;

  @Option(names = "--sharing-unbounded",
      description = "In --sharing, run the pairs again on a server with max-call-time off.")
  private boolean sharingUnbounded;

  @Option(names = "--cluster",
      description = "Only the cluster rows (cluster.*, ClusterBench), on each of "
          + "--iterative-models: 16 iterative requests through a gateway process to two "
          + "worker-node processes against one, each pinned to a core of its own, and a remote "
          + "worker node against the same worker in-process.")
  private boolean cluster;

  @Option(names = "--cluster-warmup", defaultValue = "15",
      description = "Seconds of load on fresh node processes before each cluster window "
          + "(default: ${DEFAULT-VALUE}).")
  private double clusterWarmupSeconds;

  private static final Logger LOG = LoggerFactory.getLogger(Bench.class);

  /** JIT compiler work per second below which the gRPC path counts as warm. */
  private static final long SETTLED_JIT_MS = 30;
  /** Seconds in a row the compilers must stay under {@link #SETTLED_JIT_MS}. */
  private static final int SETTLED_SECONDS = 2;

  private final ObjectMapper mapper = new ObjectMapper();
  private final Map<String, Double> batch1Rates = new LinkedHashMap<>();
  /** Images/s of the server's CPU worker layout, bare, by model label. */
  private final Map<String, Double> cpuWorkerRates = new LinkedHashMap<>();
  /** Clients of vanilla.16clients and jobs of iterative.16concurrent. */
  private static final int CONCURRENT_JOBS = 16;
  /** Path points of the Integrated Gradients requests of ig.batch16. */
  private static final int IG_STEPS = 32;
  private final PrintStream out;

  /** A benchmark printing to {@code out}. */
  Bench(PrintStream out) {
    this.out = out;
  }

  /** Runs the benchmark command line. */
  public static void main(String[] args) {
    CommonPool.ensureAtLeastTwoThreads();
    System.exit(new CommandLine(new Bench(System.out)).execute(args));
  }

  /** One measured model. */
  private record Subject(String label, ModelPackage model, byte[] png, int[] batchSizes) {}

  @Override
  public Integer call() throws Exception {
    if (cluster) {
      Path scratch = Files.createTempDirectory("salient-bench");
      ClusterBench bench = new ClusterBench(seconds, clusterWarmupSeconds, iterativeMethod,
          iterativeParams, this::emit, this::note);
      try {
        for (String label : iterativeModels) {
          Subject s = subject(label, scratch);
          bench.run(s.label(), s.model(), s.png());
        }
      } finally {
        bench.close();
      }
      return 0;
    }
    if (sharing) {
      new SharingBench(serverConfig(), seconds, sharingTrials, videoSeconds, videoFps,
          sharingLarge, sharingUnbounded, this::emit, this::note).run();
      return 0;
    }
    long rssStart = ResidentMemory.bytes();
    Path scratch = Files.createTempDirectory("salient-bench");
    List<Subject> subjects = new ArrayList<>();
    for (String m : models) {
      subjects.add(subject(m, scratch));
    }
    note("machine: " + Runtime.getRuntime().availableProcessors() + " cores, "
        + System.getProperty("os.arch") + ", java " + System.getProperty("java.version")
        + ", torch threads " + System.getProperty(InferenceEngine.THREADS_PROPERTY,
            "chosen per model"));
    Config config = serverConfig();
    SalientSettings serverSettings = SalientSettings.create(config);
    Map<String, Double> bestBatch = new LinkedHashMap<>();
    try (InferenceEngine engine =
        InferenceEngine.load("cpu", subjects.stream().map(Subject::model).toList())) {
      for (Subject s : subjects) {
        bestBatch.put(s.label(), engineBench(engine, s));
      }
      soak(engine, subjects.get(0));
      twoEngines(engine, subjects.get(0));
    }
    for (Subject s : subjects) {
      cpuWorkerEngines(s, serverSettings, bestBatch.get(s.label()));
    }
    ActorSystem<Void> serverSystem = ActorSystem.create(Behaviors.empty(), "bench-server", config);
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "bench-client", config);
    try (SalientServer server = SalientServer.start(serverSystem, serverSettings,
        new ModelCatalog(subjects.stream().map(Subject::model).toList()),
        MethodRegistry.standard())) {
      GrpcClientSettings settings = GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false);
      for (Subject s : subjects) {
        grpcBench(s, settings, clientSystem, bestBatch.get(s.label()));
        integratedGradientsBatches(s, settings, clientSystem);
      }
      Subject first = subjects.get(0);
      if (MethodRegistry.standard().all().stream()
          .anyMatch(m -> m.name().equals(iterativeMethod))) {
        for (Subject s : subjects) {
          if (iterativeModels.contains(s.label())) {
            iterativeBench(s, settings, clientSystem, bestBatch.get(s.label()));
          }
        }
      } else {
        note("iterative.16concurrent skipped: this server has no method " + iterativeMethod);
      }
      if (videoSeconds > 0) {
        VideoBench.Settle settle = () -> note(String.format(Locale.ROOT,
            "video: %.0f s after the warm-up stream for the JIT to settle",
            warmUp(0, List.of())));
        List<Integer> engineCores = server.coreSplit().map(CoreSplit::engines).orElse(List.of());
        new VideoBench("127.0.0.1", server.address().getPort(), settings, clientSystem,
            engineCores, settle, this::emit).run(first.label(), first.model(), videoFps,
                videoSeconds, 1000 / batch1Rates.get(first.label()), videoWarmupFrames);
      }
    } finally {
      clientSystem.terminate();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    long rssEnd = ResidentMemory.bytes();
    emit("memory.rss", "all", rssEnd / 1e6, "MB", "start", rssStart / 1e6);
    hostDrift(subjects.get(0));
    return 0;
  }

  /** The configuration of the servers this bench starts: its options over the defaults. */
  private Config serverConfig() {
    Map<String, Object> overrides = new LinkedHashMap<>(Map.of(
        "salient.port", 0, "salient.scheduler.max-batch", maxBatch,
        "salient.scheduler.max-in-flight", 4096,
        // Every bench client comes from 127.0.0.1, one client to the per-client quota.
        "salient.scheduler.max-in-flight-per-client", 4096));
    if (!serverCores.equalsIgnoreCase("off")) {
      overrides.put("salient.cpu-affinity.server-cores", serverCores);
    }
    return ConfigFactory.parseMap(overrides).withFallback(ConfigFactory.load());
  }

  private Subject subject(String label, Path scratch) throws IOException {
    if (label.equals("default")) {
      ModelPackage model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
      byte[] png = ImageDecoder.toPng(syntheticImage(model.input(), 1), model.input());
      return new Subject(label, model, png, new int[] {1, 2, 4, 8, 16, 32, 64});
    }
    if (label.equals("resnet18")) {
      InputSpec in = new InputSpec(3, 224, 224, 0f, 1f, new float[] {0.485f, 0.456f, 0.406f},
          new float[] {0.229f, 0.224f, 0.225f});
      List<String> labels = IntStream.range(0, 1000).mapToObj(i -> "class" + i).toList();
      ModelPackage model = RandomWeights.writePackage(scratch.resolve("resnet18"), "resnet18",
          ResNet18.ID, in, labels, 18);
      return new Subject(label, model, ImageDecoder.toPng(syntheticImage(in, 2), in),
          new int[] {1, 2, 4, 8, 16});
    }
    Path directory = label.equals("colour224")
        ? Path.of(System.getProperty("salient.repository", "."))
            .resolve("server/src/test/resources/models/colour-224")
        : Path.of(label);
    if (Files.isRegularFile(directory.resolve(ModelManifest.FILE_NAME))) {
      ModelPackage model = ModelPackage.read(directory);
      return new Subject(label.equals("colour224") ? label : model.name(), model,
          ImageDecoder.toPng(syntheticImage(model.input(), 3), model.input()),
          new int[] {1, 2, 4, 8, 16, 32});
    }
    throw new CommandLine.ParameterException(new CommandLine(this), "unknown model " + label
        + "; use default, resnet18, colour224 or the directory of a model package (with "
        + "model.json)");
  }

  /**
   * The engine's batch-1 rate once more, at the end of the run, against the same rate at its
   * start: on a shared machine another tenant's load can change the host's speed during a run
   * (here it halved for minutes at a time), and every ratio above compares measurements taken
   * minutes apart. Far from 1, this run's ratios are not to be trusted.
   */
  private void hostDrift(Subject s) {
    float[] image = ImageDecoder.decode(s.png(), s.model().input());
    Pass pass = Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {0},
        s.model().numClasses());
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(s.model()))) {
      double rate = measure(() -> {
        engine.run(s.model().name(), pass);
        return 1;
      });
      double start = batch1Rates.get(s.label());
      emit("engine.batch1_end", s.label(), rate, "img/s", "engine.batch1", start);
      if (Math.abs(rate / start - 1) > 0.1) {
        LOG.warn("the engine ran {} img/s at the end of this run against {} at its start: the "
            + "machine's speed changed during the run (other load on the host?); its ratios "
            + "compare measurements taken at different speeds, so run it again when the machine "
            + "is quiet", round(rate), round(start));
      }
    }
  }

  /** Forward + input gradient images/s at each batch size; returns the best. */
  private double engineBench(InferenceEngine engine, Subject s) throws InterruptedException {
    float[] image = ImageDecoder.decode(s.png(), s.model().input());
    double batch1 = 0;
    double best = 0;
    int bestSize = 1;
    for (int size : s.batchSizes()) {
      List<float[]> images = new ArrayList<>();
      int[] targets = new int[size];
      for (int i = 0; i < size; i++) {
        images.add(image);
        targets[i] = i % s.model().numClasses();
      }
      Pass pass = Pass.gradient(images, Pass.Output.LOGIT, targets, s.model().numClasses());
      double rate = measure(() -> {
        engine.run(s.model().name(), pass);
        return size;
      });
      if (size == 1) {
        batch1 = rate;
      }
      if (rate > best) {
        best = rate;
        bestSize = size;
      }
      note(String.format(Locale.ROOT, "engine %s batch %d: %.1f img/s", s.label(), size, rate));
    }
    emit("engine.batch1", s.label(), batch1, "img/s", null, Double.NaN);
    batch1Rates.put(s.label(), batch1);
    ObjectNode extra = mapper.createObjectNode().put("batch_size", bestSize);
    emit("engine.bestbatch", s.label(), best, "img/s", "engine.batch1", batch1, extra);
    return best;
  }

  /**
   * Two engines in one JVM, each on its own thread (as two device workers run), batch 1 at the
   * same time, against one engine alone: the thread-local grad mode lets both take input
   * gradients concurrently (DJL's GradientCollector would allow one).
   */
  private void twoEngines(InferenceEngine first, Subject s) throws Exception {
    float[] image = ImageDecoder.decode(s.png(), s.model().input());
    Pass pass = Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {0},
        s.model().numClasses());
    double alone = measure(() -> {
      first.run(s.model().name(), pass);
      return 1;
    });
    java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors
        .newSingleThreadExecutor();
    try {
      InferenceEngine second = thread.submit(() -> InferenceEngine.load("cpu",
          List.of(s.model()))).get();
      java.util.concurrent.Future<Double> other = thread.submit(() -> measure(() -> {
        second.run(s.model().name(), pass);
        return 1;
      }));
      double mine = measure(() -> {
        first.run(s.model().name(), pass);
        return 1;
      });
      double together = mine + other.get();
      thread.submit(second::close).get();
      emit("engine.2engines_batch1", s.label(), together, "img/s", "engine.batch1", alone,
          mapper.createObjectNode().put("torch_threads", first.threads(s.model().name(), 1)));
    } finally {
      thread.shutdown();
    }
  }

  /**
   * The server's CPU workers with nothing else around them: one engine per worker, each on its
   * own thread with the worker's share of the cores, all running batches of
   * {@value #CONCURRENT_JOBS} / workers at once (16 clients spread over the workers). With more
   * than one worker this, not one engine on every core, is the most the server's engines can
   * put through for 16 clients; the 16-client and iterative runs are compared with it too.
   */
  private void cpuWorkerEngines(Subject s, SalientSettings settings, double engineBest)
      throws Exception {
    int workers = settings.cpuWorkers();
    int threadsEach = settings.cpuThreadsPerWorker();
    int batchEach = Math.max(1, CONCURRENT_JOBS / workers);
    float[] image = ImageDecoder.decode(s.png(), s.model().input());
    Pass pass = Pass.gradient(Collections.nCopies(batchEach, image), Pass.Output.LOGIT,
        new int[batchEach], s.model().numClasses());
    List<ExecutorService> threads = new ArrayList<>();
    List<InferenceEngine> engines = new ArrayList<>();
    try {
      for (int w = 0; w < workers; w++) {
        ExecutorService thread = Executors.newSingleThreadExecutor();
        threads.add(thread);
        engines.add(thread.submit(() -> InferenceEngine.load("cpu", List.of(s.model()),
            threadsEach)).get());
      }
      List<Future<Double>> rates = new ArrayList<>();
      for (int w = 0; w < workers; w++) {
        InferenceEngine engine = engines.get(w);
        rates.add(threads.get(w).submit(() -> measure(() -> {
          engine.run(s.model().name(), pass);
          return batchEach;
        })));
      }
      double total = 0;
      for (Future<Double> rate : rates) {
        total += rate.get();
      }
      cpuWorkerRates.put(s.label(), total);
      emit("engine.cpu_workers_batch16", s.label(), total, "img/s", "engine.bestbatch",
          engineBest, mapper.createObjectNode().put("workers", workers)
              .put("torch_threads_each", engines.get(0).threads(s.model().name(), batchEach))
              .put("batch_each", batchEach));
    } finally {
      for (int w = 0; w < engines.size(); w++) {
        threads.get(w).submit(engines.get(w)::close).get();
      }
      threads.forEach(ExecutorService::shutdown);
    }
  }

  /**
   * Resident memory before and after a long run of gradient passes: it must not grow. The run is
   * timed (a quarter of it warm-up, then {@code seconds}; at least 50 passes each) so that a
   * slow model does not make it hours long.
   */
  private void soak(InferenceEngine engine, Subject s) {
    float[] image = ImageDecoder.decode(s.png(), s.model().input());
    Pass pass = Pass.gradient(List.of(image, image, image, image), Pass.Output.LOGIT,
        new int[] {0, 1, 2, 3}, s.model().numClasses()).with(new Pass.Extras(1f));
    runFor(engine, s, pass, seconds / 4);
    System.gc();
    long before = ResidentMemory.bytes();
    int passes = runFor(engine, s, pass, seconds);
    System.gc();
    long after = ResidentMemory.bytes();
    emit("memory.soak_growth", s.label(), (after - before) / 1e6, "MB", "rss_after_warmup",
        before / 1e6, mapper.createObjectNode().put("passes", passes));
  }

  /** Runs {@code pass} for {@code secs} seconds and at least 50 times; returns the count. */
  private static int runFor(InferenceEngine engine, Subject s, Pass pass, double secs) {
    long end = System.nanoTime() + (long) (secs * 1e9);
    int passes = 0;
    while (passes < 50 || System.nanoTime() < end) {
      engine.run(s.model().name(), pass);
      passes++;
    }
    return passes;
  }

  /** Vanilla requests/s through gRPC with N concurrent clients, each waiting for its result. */
  private void grpcBench(Subject s, GrpcClientSettings settings, ActorSystem<Void> clientSystem,
      double engineBest) throws Exception {
    ExplainRequest request = ExplainRequest.newBuilder().setModel(s.model().name())
        .setMethod("vanilla")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(s.png()))).build();
    // The gRPC path (Pekko HTTP/2, protobuf, both ends in this JVM) needs thousands of calls
    // before the JIT has compiled it: a unary call takes ~10 ms cold and under 1 ms warm.
    ExplainerClient warm = ExplainerClient.create(settings, clientSystem);
    double window = Math.max(seconds, 3 * clientCounts.stream().mapToInt(i -> i).max()
        .orElse(1) / engineBest);
    measureAsync("warm-up (4 clients)", 4, Math.max(seconds, Math.min(window, 20)),
        i -> warm.explain(request).runWith(Sink.ignore(), clientSystem), null);
    warm.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    noopCeiling(s, settings, clientSystem, engineBest);
    for (int clients : clientCounts) {
      List<ExplainerClient> pool = new ArrayList<>();
      for (int i = 0; i < clients; i++) {
        pool.add(ExplainerClient.create(settings, clientSystem));
      }
      // Long enough for several full rounds even when every client's request is in one batch.
      Window w = measureAsync("vanilla." + clients + "clients", clients,
          Math.max(seconds, 3 * clients / engineBest),
          i -> pool.get(i).explain(request).runWith(Sink.ignore(), clientSystem),
          () -> stats(pool.get(0)));
      ObjectNode extra = mapper.createObjectNode().put("mean_batch",
          meanBatch(w.before(), w.after()))
          .put("engine_busy", round((engineMillis(w.after()) - engineMillis(w.before()))
              / (w.seconds() * 1000)))
          .put("warmup_s", round(w.warmupSeconds()))
          .put("cpu_ms_per_req", round(w.cpuMsPerCall()));
      extra.set("batch_size_counts", batchSizeCounts(w.before(), w.after()));
      if (clients == CONCURRENT_JOBS && cpuWorkerRates.containsKey(s.label())) {
        extra.put("of_cpu_workers_batch16", round(w.rate() / cpuWorkerRates.get(s.label())));
      }
      emit("vanilla." + clients + "clients", s.label(), w.rate(), "req/s", "engine.bestbatch",
          engineBest, extra);
      for (ExplainerClient c : pool) {
        c.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * One Integrated Gradients request of {@value #IG_STEPS} path points with {@code batch=16}
   * against the same with {@code batch=4}, time per path point (alternated, median of three
   * each): larger batches must not cost more per point, whatever the model's best batch is.
   */
  private void integratedGradientsBatches(Subject s, GrpcClientSettings settings,
      ActorSystem<Void> clientSystem) throws Exception {
    ExplainerClient client = ExplainerClient.create(settings, clientSystem);
    Map<Integer, List<Double>> msPerPoint = new LinkedHashMap<>();
    for (int trial = 0; trial < 4; trial++) {
      for (int batch : new int[] {4, 16}) {
        ExplainRequest request = ExplainRequest.newBuilder().setModel(s.model().name())
            .setMethod("integrated_gradients").putParams("steps", String.valueOf(IG_STEPS))
            .putParams("batch", String.valueOf(batch)).setOmitSnapshots(true)
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(s.png()))).build();
        long start = System.nanoTime();
        await(client.explain(request).runWith(Sink.ignore(), clientSystem));
        if (trial > 0) {
          msPerPoint.computeIfAbsent(batch, b -> new ArrayList<>())
              .add((System.nanoTime() - start) / 1e6 / IG_STEPS);
        }
      }
    }
    client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    double batch4 = median(msPerPoint.get(4).stream().mapToDouble(d -> d).toArray());
    double batch16 = median(msPerPoint.get(16).stream().mapToDouble(d -> d).toArray());
    emit("ig.batch4", s.label(), batch4, "ms/point", null, Double.NaN);
    emit("ig.batch16", s.label(), batch16, "ms/point", "ig.batch4", batch4);
  }

  /**
   * The ceiling of any request rate through this gRPC path on this machine: 16 clients calling
   * ListModels, which does no work at all, against the engine's best batch. Vanilla requests
   * cannot pass it; where it sits below the targets, the targets need more cores, not a better
   * scheduler.
   */
  private void noopCeiling(Subject s, GrpcClientSettings settings,
      ActorSystem<Void> clientSystem, double engineBest) throws Exception {
    int clients = 16;
    List<ExplainerClient> pool = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      pool.add(ExplainerClient.create(settings, clientSystem));
    }
    ListModelsRequest request = ListModelsRequest.getDefaultInstance();
    Window w = measureAsync("grpc.noop_16clients", clients, seconds,
        i -> pool.get(i).listModels(request), null);
    emit("grpc.noop_16clients", s.label(), w.rate(), "req/s", "engine.bestbatch", engineBest,
        mapper.createObjectNode().put("rpc", "ListModels")
            .put("warmup_s", round(w.warmupSeconds()))
            .put("cpu_ms_per_req", round(w.cpuMsPerCall())));
    for (ExplainerClient c : pool) {
      c.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }

  /**
   * 16 iterative requests in flight at all times against the same requests one after another;
   * also reports the images per second each run put through the engine. Three trials; in each,
   * the sequential side runs its requests one after another for a third of {@code --seconds},
   * then 16 closed-loop clients (each sends its next request when its last has ended, as
   * {@code vanilla.16clients} does) are measured over a window as long, after a warm-up. The
   * line gives the median and each trial's ratio, and beside it the same 16 requests sent in
   * waves (all 16 at once, the next wave when the last of them has ended): a wave has fewer than
   * 16 in flight while its last jobs finish and its next one starts, so it measures that edge
   * as well.
   */
  private void iterativeBench(Subject s, GrpcClientSettings settings,
      ActorSystem<Void> clientSystem, double engineBest) throws Exception {
    ExplainerClient client = ExplainerClient.create(settings, clientSystem);
    ExplainRequest request = ExplainRequest.newBuilder().setModel(s.model().name())
        .setMethod(iterativeMethod).putAllParams(iterativeParams)
        .setTarget(Target.newBuilder().setRank(2))
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(s.png()))).build();
    int jobs = CONCURRENT_JOBS;
    for (int i = 0; i < 3 * jobs; i++) {
      await(client.explain(request).runWith(Sink.ignore(), clientSystem));
    }
    for (int wave = 0; wave < 3; wave++) {
      concurrentWave(client, request, clientSystem);
    }
    double trialSeconds = seconds / 3;
    int trials = 3;
    double[] sequential = new double[trials];
    double[] concurrent = new double[trials];
    double[] waves = new double[trials];
    double[] sequentialImageRate = new double[trials];
    double[] concurrentImageRate = new double[trials];
    double[] concurrentEngineBusy = new double[trials];
    ArrayNode trialRatios = mapper.createArrayNode();
    ArrayNode waveTrialRatios = mapper.createArrayNode();
    ObjectNode concurrentBatches = mapper.createObjectNode();
    ObjectNode waveBatches = mapper.createObjectNode();
    for (int trial = 0; trial < trials; trial++) {
      StatsResponse before = stats(client);
      long t0 = System.nanoTime();
      int sequentialJobs = 0;
      do {
        for (int i = 0; i < jobs; i++) {
          await(client.explain(request).runWith(Sink.ignore(), clientSystem));
        }
        sequentialJobs += jobs;
      } while (System.nanoTime() - t0 < trialSeconds * 1e9);
      double seconds0 = (System.nanoTime() - t0) / 1e9;
      StatsResponse between = stats(client);
      sequential[trial] = sequentialJobs / seconds0;
      sequentialImageRate[trial] = images(before, between) / seconds0;

      Window w = measureAsync("iterative.16concurrent, trial " + (trial + 1), jobs,
          trialSeconds, i -> client.explain(request).runWith(Sink.ignore(), clientSystem),
          () -> stats(client));
      concurrent[trial] = w.rate();
      concurrentImageRate[trial] = images(w.before(), w.after()) / w.seconds();
      concurrentEngineBusy[trial] =
          (engineMillis(w.after()) - engineMillis(w.before())) / (w.seconds() * 1000);
      trialRatios.add(round(concurrent[trial] / sequential[trial]));
      addCounts(concurrentBatches, batchSizeCounts(w.before(), w.after()));

      StatsResponse wavesBefore = stats(client);
      long t1 = System.nanoTime();
      int waveJobs = 0;
      do {
        concurrentWave(client, request, clientSystem);
        waveJobs += jobs;
      } while (System.nanoTime() - t1 < trialSeconds * 1e9);
      waves[trial] = waveJobs / ((System.nanoTime() - t1) / 1e9);
      waveTrialRatios.add(round(waves[trial] / sequential[trial]));
      addCounts(waveBatches, batchSizeCounts(wavesBefore, stats(client)));
    }
    double seq = median(sequential);
    emit("sequential", s.label(), seq, "jobs/s", null, Double.NaN,
        mapper.createObjectNode().put("engine_img_per_s", round(median(sequentialImageRate))));
    // The concurrent run's images per second against the engine's best batch says how close
    // it runs to the engine's limit; at 1.0 only a faster engine (or fewer passes) helps.
    double concurrentImages = median(concurrentImageRate);
    ObjectNode extra = mapper.createObjectNode().put("method", iterativeMethod)
        .put("params", iterativeParams.toString())
        .put("engine_img_per_s", round(concurrentImages))
        .put("of_engine_bestbatch", round(concurrentImages / engineBest))
        .put("engine_busy", round(median(concurrentEngineBusy)));
    Double workersRate = cpuWorkerRates.get(s.label());
    if (workersRate != null) {
      // Both runs make the same passes, so the ratio is the ratio of their image rates: were
      // the concurrent run the server's bare engines at 16 images in all, the ratio would be
      // this ceiling.
      extra.put("cpu_workers_batch16_img_per_s", round(workersRate))
          .put("ceiling", round(workersRate / median(sequentialImageRate)));
    }
    extra.put("trial_seconds", round(trialSeconds)).set("trial_ratios", trialRatios);
    extra.set("batch_size_counts", concurrentBatches);
    extra.put("waves_jobs_per_s", round(median(waves)))
        .put("waves_ratio", round(median(waves) / seq))
        .set("waves_trial_ratios", waveTrialRatios);
    extra.set("waves_batch_size_counts", waveBatches);
    emit("iterative.16concurrent", s.label(), median(concurrent), "jobs/s", "sequential", seq,
        extra);
    client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** Adds {@code counts} ({"size": calls}) into {@code total}. */
  private static void addCounts(ObjectNode total, ObjectNode counts) {
    counts.fields().forEachRemaining(e -> total.put(e.getKey(),
        total.path(e.getKey()).asLong() + e.getValue().asLong()));
  }

  /** {@value #CONCURRENT_JOBS} copies of {@code request} at once, until all have ended. */
  private static void concurrentWave(ExplainerClient client, ExplainRequest request,
      ActorSystem<Void> clientSystem) throws Exception {
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (int i = 0; i < CONCURRENT_JOBS; i++) {
      all.add(client.explain(request).runWith(Sink.ignore(), clientSystem)
          .toCompletableFuture());
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
  }

  private StatsResponse stats(ExplainerClient client) throws Exception {
    return await(client.stats(StatsRequest.getDefaultInstance()));
  }

  /** Milliseconds all workers have spent in engine calls since the server started. */
  private static double engineMillis(StatsResponse stats) {
    return stats.getWorkersList().stream()
        .mapToDouble(w -> w.getEngineCalls() * w.getPassMeanMs()).sum();
  }

  /** Images all workers have passed through the engine between the two snapshots. */
  private static long images(StatsResponse before, StatsResponse after) {
    long images = 0;
    for (int w = 0; w < after.getWorkersCount(); w++) {
      images += after.getWorkers(w).getImages() - before.getWorkers(w).getImages();
    }
    return images;
  }

  private static double meanBatch(StatsResponse before, StatsResponse after) {
    long calls = 0;
    long images = 0;
    for (int w = 0; w < after.getWorkersCount(); w++) {
      calls += after.getWorkers(w).getEngineCalls() - before.getWorkers(w).getEngineCalls();
      images += after.getWorkers(w).getImages() - before.getWorkers(w).getImages();
    }
    return calls == 0 ? 0 : images / (double) calls;
  }

  /** Engine calls by batch size between the two snapshots, as {"size": calls}. */
  private ObjectNode batchSizeCounts(StatsResponse before, StatsResponse after) {
    ObjectNode counts = mapper.createObjectNode();
    for (int w = 0; w < after.getWorkersCount(); w++) {
      var now = after.getWorkers(w).getBatchSizeCountsList();
      var then = before.getWorkers(w).getBatchSizeCountsList();
      for (int b = 1; b < now.size(); b++) {
        long calls = now.get(b) - (b < then.size() ? then.get(b) : 0);
        if (calls > 0) {
          String key = Integer.toString(b);
          counts.put(key, counts.path(key).asLong() + calls);
        }
      }
    }
    return counts;
  }

  /** Units per second of {@code work} (which returns units done), after a warm-up. */
  private double measure(Callable<Integer> work) {
    try {
      long warmEnd = System.nanoTime() + (long) (Math.min(2, seconds / 2) * 1e9);
      while (System.nanoTime() < warmEnd) {
        work.call();
      }
      long units = 0;
      long start = System.nanoTime();
      long end = start + (long) (seconds * 1e9);
      long now;
      do {
        units += work.call();
        now = System.nanoTime();
      } while (now < end);
      return units / ((now - start) / 1e9);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A measured window: completions per second, its length, the warm-up before it, the CPU time
   * this process (server and clients) spent per completion, and the server's stats at both ends
   * (null without a snapshot).
   */
  private record Window(double rate, double seconds, double warmupSeconds, double cpuMsPerCall,
      StatsResponse before, StatsResponse after) {}

  /**
   * Completions per second of {@code clients} closed loops of {@code call}, measured over
   * {@code window} seconds once the loops have run for a while and the JIT has settled;
   * {@code snapshot} (may be null) takes the server's stats at both ends of the window.
   */
  private Window measureAsync(String name, int clients, double window,
      java.util.function.IntFunction<CompletionStage<?>> call, Callable<StatsResponse> snapshot)
      throws Exception {
    AtomicLong done = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      CompletableFuture<Void> loop = new CompletableFuture<>();
      runLoop(i, call, done, stop, loop);
      loops.add(loop);
    }
    double warmup = warmUp(Math.min(2, window / 2), loops);
    LOG.info("measuring {} for {} s (warm-up took {} s)", name, round(window), round(warmup));
    StatsResponse before = snapshot == null ? null : snapshot.call();
    long countStart = done.get();
    long cpuStart = processCpuNanos();
    long start = System.nanoTime();
    TimeUnit.NANOSECONDS.sleep((long) (window * 1e9));
    long count = done.get() - countStart;
    double elapsed = (System.nanoTime() - start) / 1e9;
    double cpuMs = (processCpuNanos() - cpuStart) / 1e6;
    StatsResponse after = snapshot == null ? null : snapshot.call();
    LOG.info("measured {}: {} completions in {} s", name, count, round(elapsed));
    stop.set(true);
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new))
        .get((long) (window * 10 + 120), TimeUnit.SECONDS);
    return new Window(count / elapsed, elapsed, warmup, cpuMs / Math.max(1, count), before,
        after);
  }

  /**
   * Waits at least {@code minSeconds}, then until the JIT compilers have settled (under
   * {@link #SETTLED_JIT_MS} of compiler work in each of the last {@link #SETTLED_SECONDS}
   * seconds, {@link JitActivity}) or {@code --max-warmup} has passed: the gRPC path (Pekko
   * HTTP/2, Pekko Streams, protobuf) keeps the C2 compiler busy for tens of seconds, and a
   * window measured while it compiles measures the compiler (it took 40 % of the 2 cores 20 s
   * into vanilla.16clients). Its work comes in bursts, so one quiet second is not enough.
   * Returns the seconds waited.
   */
  private double warmUp(double minSeconds, List<CompletableFuture<Void>> loops)
      throws InterruptedException {
    long start = System.nanoTime();
    TimeUnit.NANOSECONDS.sleep((long) (minSeconds * 1e9));
    JitActivity jit = JitActivity.start();
    if (jit == null) {
      return minSeconds;
    }
    long deadline = start + (long) (maxWarmupSeconds * 1e9);
    int quietSeconds = 0;
    while (quietSeconds < SETTLED_SECONDS && System.nanoTime() < deadline
        && loops.stream().noneMatch(CompletableFuture::isDone)) {
      TimeUnit.SECONDS.sleep(1);
      quietSeconds = jit.millisSinceLastCall() < SETTLED_JIT_MS ? quietSeconds + 1 : 0;
    }
    return (System.nanoTime() - start) / 1e9;
  }

  private void runLoop(int client, java.util.function.IntFunction<CompletionStage<?>> call,
      AtomicLong done, AtomicBoolean stop, CompletableFuture<Void> finished) {
    call.apply(client).whenComplete((ok, error) -> {
      if (error != null) {
        finished.completeExceptionally(error);
        return;
      }
      done.incrementAndGet();
      if (stop.get()) {
        finished.complete(null);
      } else {
        runLoop(client, call, done, stop, finished);
      }
    });
  }

  /** CPU time of this process so far, all threads, or 0 where the JVM cannot tell. */
  private static long processCpuNanos() {
    return ManagementFactory.getOperatingSystemMXBean()
        instanceof OperatingSystemMXBean os
        ? Math.max(0, os.getProcessCpuTime()) : 0;
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.MINUTES);
  }

  static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  /** A smooth random image (sums of low-frequency sinusoids), deterministic by seed. */
  static float[] syntheticImage(InputSpec in, int seed) {
    Random random = new Random(seed);
    float[] x = new float[in.size()];
    int plane = in.height() * in.width();
    for (int c = 0; c < in.channels(); c++) {
      double fx = 1 + random.nextDouble() * 3;
      double fy = 1 + random.nextDouble() * 3;
      double phase = random.nextDouble() * Math.PI;
      for (int y = 0; y < in.height(); y++) {
        for (int xx = 0; xx < in.width(); xx++) {
          double v = 0.5 + 0.4 * Math.sin(fx * Math.PI * xx / in.width() + phase)
              * Math.cos(fy * Math.PI * y / in.height());
          x[c * plane + y * in.width() + xx] = (float) v;
        }
      }
    }
    return x;
  }

  private void note(String line) {
    if (!json) {
      out.println(line);
    }
  }

  private void emit(String bench, String model, double value, String unit, String baseline,
      double baselineValue) {
    emit(bench, model, value, unit, baseline, baselineValue, null);
  }

  private void emit(String bench, String model, double value, String unit, String baseline,
      double baselineValue, ObjectNode extra) {
    ObjectNode line = mapper.createObjectNode()
        .put("bench", bench).put("model", model).put("value", round(value)).put("unit", unit);
    if (baseline != null) {
      line.put("baseline", baseline).put("baseline_value", round(baselineValue))
          .put("ratio", round(value / baselineValue));
    }
    if (extra != null) {
      line.setAll(extra);
    }
    if (json) {
      out.println(line);
    } else {
      out.printf(Locale.ROOT, "%-24s %-9s %10.2f %-7s%s%n", bench, model, value, unit,
          baseline == null ? "" : String.format(Locale.ROOT, "  ratio %.2f vs %s (%.2f)",
              value / baselineValue, baseline, baselineValue));
    }
    out.flush();
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
