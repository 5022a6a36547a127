package dev.salient.tools.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.Target;
import dev.salient.server.SalientServer;
import dev.salient.server.auth.Tokens;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.RandomWeights;
import dev.salient.server.engine.builtin.ResNet18;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.worker.DeviceWorker;
import dev.salient.server.worker.EventSink;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * {@code ./salient bench --sharing}: one server's engines shared between a small and a large
 * model, and between a flooding client and another (issue 28, issue 21). Every row is measured
 * against a baseline of the same run: the small model's vanilla requests from
 * {@value #SMALL_CLIENTS} clients alone and beside {@value #LARGE_CLIENTS} clients of a
 * 224-pixel model (colour224, or a ResNet-18 of random weights), and that model's own rate alone
 * and beside, optionally again with calls unbounded; a live-video stream
 * on the small model alone and beside the large model's clients; and a second client's vanilla
 * requests alone and beside {@value #FLOOD} long iterative requests of a flooding client.
 */
final class SharingBench {
  static final int SMALL_CLIENTS = 4;
  static final int LARGE_CLIENTS = 8;
  static final int FLOOD = 300;
  private static final Map<String, String> BIM_PARAMS =
      Map.of("max_iterations", "20", "alpha", "0.0005");

  private final ObjectMapper mapper = new ObjectMapper();
  private final VideoBench.Emitter out;
  private final Consumer<String> note;
  private final Config config;
  private final double seconds;
  private final int trials;
  private final double videoSeconds;
  private final double videoFps;
  private final String largeLabel;
  private final boolean compareUnbounded;

  /**
   * A bench of servers configured by {@code config}, windows of {@code seconds}; the large model
   * is {@code largeLabel} (colour224, resnet18 or a package directory), and with {@code
   * compareUnbounded} the pairs
   * run again on a server with {@code max-call-time = off}.
   */
  SharingBench(Config config, double seconds, int trials, double videoSeconds, double videoFps,
      String largeLabel, boolean compareUnbounded, VideoBench.Emitter out,
      Consumer<String> note) {
    this.config = config;
    this.largeLabel = largeLabel;
    this.compareUnbounded = compareUnbounded;
    this.seconds = seconds;
    this.trials = trials;
    this.videoSeconds = videoSeconds;
    this.videoFps = videoFps;
    this.out = out;
    this.note = note;
  }

  /** Closed-loop clients of one kind: how many, and one call each. */
  private record Group(String name, int clients, IntFunction<CompletionStage<?>> call) {}

  /** What a group did in the window: completions per second and latency percentiles. */
  record Load(double rate, double p50, double p99, int completed) {}

  void run() throws Exception {
    ModelPackage small = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    ModelPackage large = largeModel();
    serve(config, small, large, "sharing", true);
    if (compareUnbounded) {
      serve(ConfigFactory.parseMap(Map.of("salient.sharing.max-call-time", "off"))
          .withFallback(config), small, large, "sharing.unbounded", false);
    }
    floodInProcess(small, SalientSettings.create(config));
    floodWithTokens(small);
  }

  /**
   * The flood over gRPC as a server that tells its callers apart sees it: a server of {@code
   * small} with a tokens file, the flood sent with one token and the other client's requests
   * with another, so the scheduler shares rounds between two clients.
   */
  private void floodWithTokens(ModelPackage small) throws Exception {
    String flooderToken = Tokens.mint();
    String otherToken = Tokens.mint();
    Path tokens = Files.createTempFile("salient-sharing", ".tokens");
    Files.writeString(tokens, "flooder " + Tokens.hash(flooderToken) + "\nother "
        + Tokens.hash(otherToken) + "\n");
    Config serverConfig = ConfigFactory.parseMap(Map.of("salient.auth.tokens-file",
        tokens.toString())).withFallback(config);
    ActorSystem<Void> serverSystem = ActorSystem.create(Behaviors.empty(),
        "sharing-tokens-server", serverConfig);
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(),
        "sharing-tokens-client", serverConfig);
    try (SalientServer server = SalientServer.start(serverSystem,
        SalientSettings.create(serverConfig), new ModelCatalog(List.of(small)),
        MethodRegistry.standard())) {
      GrpcClientSettings grpc = GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false);
      ExplainerClient other =
          ExplainerClient.create(grpc.withCallCredentials(bearer(otherToken)), clientSystem);
      floodOverGrpc(small, grpc.withCallCredentials(bearer(flooderToken)), clientSystem, other,
          "sharing.flood_tokens", "two: the tokens flooder and other", true);
      other.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } finally {
      clientSystem.terminate();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
      Files.deleteIfExists(tokens);
    }
  }

  /** Sends {@code authorization: Bearer token} with every call. */
  private static CallCredentials bearer(String token) {
    Metadata.Key<String> authorization =
        Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    return new CallCredentials() {
      @Override
      public void applyRequestMetadata(RequestInfo info, Executor executor,
          MetadataApplier applier) {
        Metadata headers = new Metadata();
        headers.put(authorization, "Bearer " + token);
        applier.apply(headers);
      }
    };
  }

  private ModelPackage largeModel() throws Exception {
    if (largeLabel.equals("resnet18")) {
      InputSpec in = new InputSpec(3, 224, 224, 0f, 1f, new float[] {0.485f, 0.456f, 0.406f},
          new float[] {0.229f, 0.224f, 0.225f});
      List<String> labels = IntStream.range(0, 1000).mapToObj(i -> "class" + i).toList();
      return RandomWeights.writePackage(Files.createTempDirectory("salient-sharing")
          .resolve("resnet18"), "resnet18", ResNet18.ID, in, labels, 18);
    }
    if (largeLabel.equals("colour224")) {
      return ModelPackage.read(Path.of(System.getProperty("salient.repository", "."))
          .resolve("server/src/test/resources/models/colour-224"));
    }
    Path directory = Path.of(largeLabel);
    if (Files.isRegularFile(directory.resolve("model.json"))) {
      return ModelPackage.read(directory);
    }
    throw new IllegalArgumentException("--sharing-large takes colour224, resnet18 or a model "
        + "package directory (such as tools/scripts/export_mobilenet_v2.py writes), not "
        + largeLabel);
  }

  /**
   * Starts a server of {@code small} and {@code large} configured by {@code serverConfig} and
   * measures the alone/beside pairs as rows {@code prefix.*}; with {@code everything}, also the
   * live video and the flood over gRPC.
   */
  private void serve(Config serverConfig, ModelPackage small, ModelPackage large, String prefix,
      boolean everything) throws Exception {
    SalientSettings settings = SalientSettings.create(serverConfig);
    note.accept(String.format(Locale.ROOT, "%s: models %s (small) and %s (large), "
        + "max-call-time %s, %d CPU workers, %d windows of %.0f s each", prefix,
        small.name(), large.name(), settings.sharing().maxCallTime().isZero() ? "off"
            : settings.sharing().maxCallTime().toMillis() + " ms", settings.cpuWorkers(),
        trials, seconds));
    ActorSystem<Void> serverSystem = ActorSystem.create(Behaviors.empty(), "sharing-server",
        serverConfig);
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "sharing-client",
        serverConfig);
    try (SalientServer server = SalientServer.start(serverSystem, settings,
        new ModelCatalog(List.of(small, large)), MethodRegistry.standard())) {
      GrpcClientSettings grpc = GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false);
      ExplainRequest smallVanilla = vanilla(small, 1);
      ExplainRequest largeVanilla = vanilla(large, 3);
      List<ExplainerClient> smallClients = clients(SMALL_CLIENTS, grpc, clientSystem);
      List<ExplainerClient> largeClients = clients(LARGE_CLIENTS, grpc, clientSystem);
      Group smallGroup = new Group("small", SMALL_CLIENTS,
          i -> smallClients.get(i).explain(smallVanilla).runWith(Sink.ignore(), clientSystem));
      Group largeGroup = new Group("large", LARGE_CLIENTS,
          i -> largeClients.get(i).explain(largeVanilla).runWith(Sink.ignore(), clientSystem));
      // The JIT compiles the gRPC path and both models' passes before anything is measured.
      measure(List.of(smallGroup, largeGroup), Math.max(10, seconds));
      for (int trial = 1; trial <= trials; trial++) {
        Load smallAlone = measure(List.of(smallGroup), seconds).get("small");
        Load largeAlone = measure(List.of(largeGroup), seconds).get("large");
        Map<String, Load> beside = measure(List.of(smallGroup, largeGroup), seconds);
        emitPair(prefix + ".small", small.name(), smallAlone, beside.get("small"), trial);
        emitPair(prefix + ".large", largeLabel, largeAlone, beside.get("large"), trial);
      }
      if (everything && videoSeconds > 0) {
        video(small, grpc, clientSystem, server.address().getPort(), largeGroup);
      }
      if (everything) {
        floodOverGrpc(small, grpc, clientSystem, smallClients.get(0), "sharing.flood_grpc",
            "one: every caller is 127.0.0.1", false);
      }
      for (ExplainerClient c : smallClients) {
        c.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
      }
      for (ExplainerClient c : largeClients) {
        c.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
      }
    } finally {
      clientSystem.terminate();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
  }

  private static ExplainRequest vanilla(ModelPackage model, int seed) {
    byte[] png = ImageDecoder.toPng(Bench.syntheticImage(model.input(), seed), model.input());
    return ExplainRequest.newBuilder().setModel(model.name()).setMethod("vanilla")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(png))).build();
  }

  private static List<ExplainerClient> clients(int n, GrpcClientSettings grpc,
      ActorSystem<Void> system) {
    List<ExplainerClient> clients = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clients.add(ExplainerClient.create(grpc, system));
    }
    return clients;
  }

  private void emitPair(String bench, String model, Load alone, Load beside, int trial) {
    out.emit(bench + ".alone", model, alone.rate(), "req/s", null, Double.NaN,
        extra(alone).put("trial", trial));
    out.emit(bench + ".beside", model, beside.rate(), "req/s", bench + ".alone", alone.rate(),
        extra(beside).put("trial", trial).put("p99_ratio", round(beside.p99() / alone.p99())));
  }

  private ObjectNode extra(Load load) {
    return mapper.createObjectNode().put("p50_ms", round(load.p50()))
        .put("p99_ms", round(load.p99())).put("completed", load.completed());
  }

  /**
   * A paced live-video stream (vanilla) on the small model, alone and while the large model's
   * clients keep it busy: frame latency percentiles, as the client sees them.
   */
  private void video(ModelPackage small, GrpcClientSettings grpc, ActorSystem<Void> clientSystem,
      int port, Group largeGroup) throws Exception {
    VideoBench bench = new VideoBench("127.0.0.1", port, grpc, clientSystem, List.of(),
        () -> { }, out);
    ExplainerClient client = ExplainerClient.create(grpc, clientSystem);
    ManagedChannel channel =
        NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().directExecutor().build();
    try {
      var frames = VideoBench.frames(small);
      // Warm the video path, then the stream alone and beside the large model's clients.
      bench.stream(small, frames, VideoBench.WARMUP_FPS, 10, client, channel);
      VideoBench.Run alone = bench.stream(small, frames, videoFps, videoSeconds, client, channel);
      Running background = start(List.of(largeGroup));
      VideoBench.Run beside;
      try {
        TimeUnit.SECONDS.sleep(2);
        beside = bench.stream(small, frames, videoFps, videoSeconds, client, channel);
      } finally {
        background.stop();
      }
      String name = "sharing.video" + Math.round(videoFps) + "fps";
      double[] a = sorted(alone.latenciesMs());
      double[] b = sorted(beside.latenciesMs());
      out.emit(name + ".alone.p99_ms", small.name(), percentile(a, 0.99), "ms", null,
          Double.NaN, mapper.createObjectNode().put("p50_ms", round(percentile(a, 0.5)))
              .put("frames_out", alone.explained()).put("dropped", alone.dropped()));
      out.emit(name + ".beside.p99_ms", small.name(), percentile(b, 0.99), "ms",
          name + ".alone.p99_ms", percentile(a, 0.99), mapper.createObjectNode()
              .put("p50_ms", round(percentile(b, 0.5))).put("frames_out", beside.explained())
              .put("dropped", beside.dropped()).put("large_clients", LARGE_CLIENTS));
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }

  /**
   * One client's vanilla requests ({@code other}) alone, then while {@value #FLOOD} long
   * iterative requests (a 20-step BIM each) are in flight on connections of their own, made from
   * {@code grpc}. Without tokens every caller on loopback is the client 127.0.0.1: then the
   * flood and the other client are one client to the scheduler, and the row shows what that
   * costs; with a token each, they are two. With {@code warmUp}, a first window is not counted.
   */
  private void floodOverGrpc(ModelPackage small, GrpcClientSettings grpc,
      ActorSystem<Void> clientSystem, ExplainerClient other, String bench, String identities,
      boolean warmUp) throws Exception {
    ExplainRequest vanilla = vanilla(small, 1);
    ExplainRequest bim = vanilla.toBuilder().setMethod("bim").putAllParams(BIM_PARAMS)
        .setTarget(Target.newBuilder().setRank(2)).build();
    Group otherGroup = new Group("other", 1,
        i -> other.explain(vanilla).runWith(Sink.ignore(), clientSystem));
    List<ExplainerClient> flooders = clients(4, grpc, clientSystem);
    Group flood = new Group("flood", FLOOD,
        i -> flooders.get(i % flooders.size()).explain(bim).runWith(Sink.ignore(), clientSystem));
    if (warmUp) {
      measure(List.of(otherGroup, flood), Math.min(seconds, 4));
    }
    Load alone = measure(List.of(otherGroup), seconds).get("other");
    Load beside = measure(List.of(otherGroup, flood), seconds).get("other");
    emitFlood(bench, small.name(), alone, beside, identities);
    for (ExplainerClient c : flooders) {
      c.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }
  }

  private void emitFlood(String bench, String model, Load alone, Load beside, String identity) {
    out.emit(bench + ".alone.p99_ms", model, alone.p99(), "ms", null, Double.NaN,
        extra(alone).put("rate", round(alone.rate())));
    out.emit(bench + ".beside.p99_ms", model, beside.p99(), "ms", bench + ".alone.p99_ms",
        alone.p99(), extra(beside).put("rate", round(beside.rate())).put("flood", FLOOD)
            .put("identities", identity));
  }

  /**
   * The same flood inside the server, without gRPC: orders go to the supervisor with the
   * client's name, as the gRPC layer will give them once it names its callers. The second
   * client's vanilla requests alone, beside the flood under a name of their own, and beside it
   * under the flooder's name (what an unnamed caller gets).
   */
  private void floodInProcess(ModelPackage model, SalientSettings settings) throws Exception {
    List<DeviceWorker.DeviceRuntime> runtimes = new ArrayList<>();
    for (int w = 0; w < settings.cpuWorkers(); w++) {
      runtimes.add(DeviceWorker.loadRuntime("cpu-" + w, "cpu", List.of(model),
          settings.cpuThreadsPerWorker(), List.of(),
          settings.measureBestBatch() ? settings.maxBatch() : 0));
    }
    ActorSystem<ExplainSupervisor.Command> system = ActorSystem.create(
        ExplainSupervisor.create(new ModelCatalog(List.of(model)), MethodRegistry.standard(),
            runtimes, settings.workerSettings(), 4096,
            new SchedulerMetrics(new SimpleMeterRegistry())), "sharing-flood", config);
    try {
      float[] image = ImageDecoder.decode(
          ImageDecoder.toPng(Bench.syntheticImage(model.input(), 1), model.input()),
          model.input());
      IntFunction<CompletionStage<?>> flood = i -> submit(system, model, image, "bim",
          BIM_PARAMS, new TargetSpec.Rank(2), "flooder");
      Map<String, Load> results = new LinkedHashMap<>();
      // Warm-up, then alone, beside under its own name, beside under the flooder's.
      measure(List.of(new Group("other", 1, i -> submit(system, model, image, "vanilla",
          Map.of(), new TargetSpec.Predicted(), "other")), new Group("flood", FLOOD, flood)),
          Math.max(5, seconds));
      results.put("alone", measure(List.of(new Group("other", 1, i -> submit(system, model,
          image, "vanilla", Map.of(), new TargetSpec.Predicted(), "other"))), seconds)
          .get("other"));
      results.put("named", measure(List.of(new Group("other", 1, i -> submit(system, model,
          image, "vanilla", Map.of(), new TargetSpec.Predicted(), "other")),
          new Group("flood", FLOOD, flood)), seconds).get("other"));
      results.put("unnamed", measure(List.of(new Group("other", 1, i -> submit(system, model,
          image, "vanilla", Map.of(), new TargetSpec.Predicted(), "flooder")),
          new Group("flood", FLOOD, flood)), seconds).get("other"));
      emitFlood("sharing.flood_named", model.name(), results.get("alone"), results.get("named"),
          "distinct");
      out.emit("sharing.flood_unnamed.beside.p99_ms", model.name(), results.get("unnamed").p99(),
          "ms", "sharing.flood_named.alone.p99_ms", results.get("alone").p99(),
          extra(results.get("unnamed")).put("rate", round(results.get("unnamed").rate()))
              .put("flood", FLOOD).put("identities", "one"));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
  }

  private static CompletionStage<?> submit(ActorSystem<ExplainSupervisor.Command> system,
      ModelPackage model, float[] image, String method, Map<String, String> params,
      TargetSpec target, String client) {
    CompletionSink sink = new CompletionSink();
    system.tell(new ExplainSupervisor.Submit(new ExplainOrder(UUID.randomUUID().toString(),
        model.name(), image, method, params, target, 5, 1, false, false, Long.MAX_VALUE, client),
        sink));
    return sink.done;
  }

  /** Takes every event at once; completes when the job ends, exceptionally when it fails. */
  private static final class CompletionSink implements EventSink {
    final CompletableFuture<Done> done = new CompletableFuture<>();

    @Override
    public CompletionStage<Boolean> offer(ExplainEvent event) {
      return CompletableFuture.completedFuture(!done.isDone());
    }

    @Override
    public void complete() {
      done.complete(Done.getInstance());
    }

    @Override
    public void fail(Throwable error) {
      done.completeExceptionally(error);
    }

    @Override
    public CompletionStage<Done> whenClosed() {
      return done.handle((ok, error) -> Done.getInstance());
    }
  }

  /** Loops running until stopped; latencies recorded while {@code measuring}. */
  private static final class Running {
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicBoolean measuring = new AtomicBoolean();
    final Map<String, List<Double>> latencies = new LinkedHashMap<>();
    final Map<String, AtomicLong> completed = new LinkedHashMap<>();
    final List<CompletableFuture<Void>> loops = new ArrayList<>();

    void stop() throws Exception {
      stop.set(true);
      CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
    }
  }

  private static Running start(List<Group> groups) {
    Running running = new Running();
    for (Group g : groups) {
      List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
      AtomicLong completed = new AtomicLong();
      running.latencies.put(g.name(), latencies);
      running.completed.put(g.name(), completed);
      for (int i = 0; i < g.clients(); i++) {
        CompletableFuture<Void> loop = new CompletableFuture<>();
        loop(g, i, running, latencies, completed, loop);
        running.loops.add(loop);
      }
    }
    return running;
  }

  private static void loop(Group g, int client, Running running, List<Double> latencies,
      AtomicLong completed, CompletableFuture<Void> finished) {
    boolean counted = running.measuring.get();
    long start = System.nanoTime();
    g.call().apply(client).whenComplete((ok, error) -> {
      if (error != null) {
        finished.completeExceptionally(error);
        return;
      }
      if (counted && running.measuring.get()) {
        latencies.add((System.nanoTime() - start) / 1e6);
      }
      if (running.measuring.get()) {
        completed.incrementAndGet();
      }
      if (running.stop.get()) {
        finished.complete(null);
      } else {
        loop(g, client, running, latencies, completed, finished);
      }
    });
  }

  /**
   * Runs the groups' closed loops together: 2 s (at least) unmeasured, then {@code window}
   * seconds measured: each group's completions per second and the latencies of the requests
   * that both started and ended in the window.
   */
  private static Map<String, Load> measure(List<Group> groups, double window) throws Exception {
    Running running = start(groups);
    TimeUnit.SECONDS.sleep(2);
    running.measuring.set(true);
    long start = System.nanoTime();
    TimeUnit.NANOSECONDS.sleep((long) (window * 1e9));
    running.measuring.set(false);
    double elapsed = (System.nanoTime() - start) / 1e9;
    Map<String, Load> loads = new LinkedHashMap<>();
    for (Group g : groups) {
      double[] latencies;
      synchronized (running.latencies.get(g.name())) {
        latencies = sorted(running.latencies.get(g.name()).stream()
            .mapToDouble(Double::doubleValue).toArray());
      }
      long completed = running.completed.get(g.name()).get();
      loads.put(g.name(), new Load(completed / elapsed, percentile(latencies, 0.5),
          percentile(latencies, 0.99), (int) completed));
    }
    running.stop();
    return loads;
  }

  private static double[] sorted(double[] values) {
    double[] copy = values.clone();
    Arrays.sort(copy);
    return copy;
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
