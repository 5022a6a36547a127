package dev.salient.server;

import dev.salient.grpc.Explainer;
import dev.salient.grpc.ExplainerPowerApiHandlerFactory;
import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.grpc.ExplainerService;
import dev.salient.server.grpc.GrpcErrors;
import dev.salient.server.grpc.HealthService;
import dev.salient.server.grpc.MessageSizeLimit;
import dev.salient.server.grpc.ResponseCompression;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CommonPool;
import dev.salient.server.util.CpuAffinity;
import dev.salient.server.video.VideoSessions;
import dev.salient.server.worker.DeviceWorker;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import io.grpc.health.v1.Health;
import io.grpc.health.v1.HealthHandlerFactory;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.grpc.javadsl.ServerReflection;
import org.apache.pekko.grpc.javadsl.ServiceHandler;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.SystemMaterializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts Salient in an actor system: loads the models onto each device's engine thread, spawns
 * the supervisor and its workers, and binds the Explainer, Health and reflection services.
 */
public final class SalientServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SalientServer.class);

  private final ActorSystem<?> system;
  private final ServerBinding binding;
  private final MetricsEndpoint metrics;
  private final ServerBinding metricsBinding;
  private final HealthService health;
  private final ModelCatalog catalog;
  private final SalientSettings settings;
  private final Optional<CoreSplit> split;
  private final DecodeBudget decodeBudget;

  private SalientServer(ActorSystem<?> system, ServerBinding binding, MetricsEndpoint metrics,
      ServerBinding metricsBinding, HealthService health, ModelCatalog catalog,
      SalientSettings settings, Optional<CoreSplit> split, DecodeBudget decodeBudget) {
    this.split = split;
    this.decodeBudget = decodeBudget;
    this.system = system;
    this.binding = binding;
    this.metrics = metrics;
    this.metricsBinding = metricsBinding;
    this.health = health;
    this.catalog = catalog;
    this.settings = settings;
  }

  /** The catalog named by {@code settings.models()}: the default model plus that directory. */
  public static ModelCatalog catalogFor(SalientSettings settings) {
    return settings.models().isEmpty() ? ModelCatalog.embeddedDefault()
        : ModelCatalog.load(Path.of(settings.models()), true);
  }

  /** Starts a server in {@code system}; blocks until the models are loaded and the port bound. */
  public static SalientServer start(ActorSystem<?> system, SalientSettings settings,
      ModelCatalog catalog, MethodRegistry methods) {
    if (ForkJoinPool.getCommonPoolParallelism() < 2) {
      log.warn("the common ForkJoinPool has one thread, so every gRPC call starts two threads "
          + "(about half the throughput); start the JVM with -D{}=2", CommonPool.PARALLELISM);
    }
    if (settings.devices().contains("cpu") && System.getProperty("os.name").equals("Linux")
        && !"1".equals(System.getenv("MALLOC_ARENA_MAX"))) {
      log.warn("MALLOC_ARENA_MAX is not 1: libtorch's tensors larger than 64 MB (large batches "
          + "of 224-pixel images) are mapped afresh on every engine call, several times slower "
          + "per image; start the server with MALLOC_ARENA_MAX=1 (./salient sets it)");
    }
    String fixedThreads = System.getProperty(InferenceEngine.THREADS_PROPERTY);
    if (settings.devices().contains("cpu") && fixedThreads != null
        && Integer.parseInt(fixedThreads.trim()) * settings.cpuWorkers()
            > Runtime.getRuntime().availableProcessors()) {
      log.warn("{} CPU workers with {} intra-op threads each (-D{}) want more than the {} cores; "
          + "their OpenMP threads will wait for each other. Lower one of them.",
          settings.cpuWorkers(), fixedThreads.trim(), InferenceEngine.THREADS_PROPERTY,
          Runtime.getRuntime().availableProcessors());
    }
    Optional<CoreSplit> split = pinThreads(settings);
    List<Integer> engineCores = split.map(CoreSplit::engines).orElse(List.of());
    List<DeviceWorker.DeviceRuntime> runtimes = new ArrayList<>();
    for (String device : settings.devices()) {
      int workers = device.equals("cpu") ? settings.cpuWorkers() : 1;
      for (int w = 0; w < workers; w++) {
        String name = device.equals("cpu") ? "cpu-" + w : device.replace(':', '-');
        runtimes.add(DeviceWorker.loadRuntime(name, device, catalog.all(),
            settings.cpuThreadsPerWorker(), engineCores,
            settings.measureBestBatch() ? settings.maxBatch() : 0));
      }
    }
    MetricsEndpoint endpoint = new MetricsEndpoint();
    SchedulerMetrics metrics = new SchedulerMetrics(endpoint.registry());
    ActorRef<ExplainSupervisor.Command> supervisor = system.systemActorOf(
        ExplainSupervisor.create(catalog, methods, runtimes, settings.workerSettings(),
            settings.maxInFlight(), metrics),
        "explain-supervisor", Props.empty());
    ActorRef<VideoSessions.Command> videoSessions = system.systemActorOf(
        VideoSessions.create(supervisor, metrics), "video-sessions", Props.empty());
    DecodeBudget decodeBudget =
        new DecodeBudget(settings.decodeBudget(), settings.decodeBudgetWait());
    ExplainerService explainer = new ExplainerService(catalog, methods, supervisor, videoSessions,
        metrics, system, system.dispatchers().lookup(DispatcherSelector.blocking()),
        settings.streamBuffer(), settings.videoMaxInFlight(), decodeBudget);
    HealthService health = new HealthService();
    Materializer mat = SystemMaterializer.get(system).materializer();
    var handler = ServiceHandler.concatOrNotFound(
        ExplainerPowerApiHandlerFactory.partial(explainer, Explainer.name, mat, GrpcErrors.handler(),
            system),
        HealthHandlerFactory.partial(health, Health.name, mat, GrpcErrors.handler(), system),
        ServerReflection.create(List.of(Explainer.description, Health.description), system));
    long maxMessageSize = settings.messageSizeFor(catalog.all().stream()
        .mapToLong(m -> 4L * m.input().size()).max().orElse(0));
    CompletionStage<ServerBinding> bound =
        Http.get(system).newServerAt(settings.host(), settings.port())
            .bind(MessageSizeLimit.apply(
                ResponseCompression.apply(handler, settings.compressResponses()),
                maxMessageSize));
    ServerBinding binding = bound.toCompletableFuture().join();
    log.info("Salient listening on {} (models {}; workers {}; messages up to {} bytes, "
        + "decode budget {} MiB)", binding.localAddress(),
        catalog.all().stream().map(m -> m.name()).toList(),
        runtimes.stream().map(DeviceWorker.DeviceRuntime::name).toList(), maxMessageSize,
        settings.decodeBudget() >> 20);
    ServerBinding metricsBinding = null;
    if (settings.metricsPort() != SalientSettings.METRICS_OFF) {
      try {
        metricsBinding = endpoint.bind(system, settings.host(), settings.metricsPort())
            .toCompletableFuture().join();
      } catch (RuntimeException e) {
        binding.unbind();
        throw new IllegalStateException("cannot serve metrics on " + settings.host() + ":"
            + settings.metricsPort() + " (" + e.getMessage() + "); choose another "
            + "metrics-port or turn it off", e);
      }
      log.info("metrics for Prometheus at http://{}:{}{}",
          metricsBinding.localAddress().getHostString(), metricsBinding.localAddress().getPort(),
          MetricsEndpoint.PATH);
    }
    return new SalientServer(system, binding, endpoint, metricsBinding, health, catalog,
        settings, split, decodeBudget);
  }

  /**
   * With {@code salient.cpu-affinity.server-cores} set, pins every thread the process has now to
   * the server's cores (threads started later inherit them) and returns the split, whose engine
   * cores the engine threads take; otherwise, or where the cores do not allow it, pins nothing.
   */
  private static Optional<CoreSplit> pinThreads(SalientSettings settings) {
    if (settings.serverCores() == SalientSettings.AFFINITY_OFF) {
      return Optional.empty();
    }
    if (!CpuAffinity.supported()) {
      log.warn("salient.cpu-affinity.server-cores is {} but threads cannot be pinned here "
          + "(Linux only); every thread runs on any core", settings.serverCores());
      return Optional.empty();
    }
    List<Integer> allowed = CpuAffinity.ofCurrentThread();
    Optional<CoreSplit> split = CoreSplit.of(allowed, settings.serverCores());
    if (split.isEmpty()) {
      log.warn("salient.cpu-affinity.server-cores is {} but this process may use {} core(s) {}, "
          + "which leaves the engines none; every thread runs on any core. Set it below {} or "
          + "off.", settings.serverCores(), allowed.size(), allowed, allowed.size());
      return Optional.empty();
    }
    int threads = CpuAffinity.pinAllThreads(split.get().server());
    log.info("CPU affinity: engines on cores {}, the other {} threads of the process on {}",
        split.get().engines(), threads, split.get().server());
    return split;
  }

  /** The split of the cores between engines and the rest, when this server pinned threads. */
  public Optional<CoreSplit> coreSplit() {
    return split;
  }

  /** The bound address (useful with port 0). */
  public InetSocketAddress address() {
    return binding.localAddress();
  }

  /** Where GET /metrics is served, unless the metrics port is off. */
  public Optional<InetSocketAddress> metricsAddress() {
    return Optional.ofNullable(metricsBinding).map(ServerBinding::localAddress);
  }

  /** The pixel memory the requests' image decodes share. */
  public DecodeBudget decodeBudget() {
    return decodeBudget;
  }

  /** The models served. */
  public ModelCatalog catalog() {
    return catalog;
  }

  /** Stops accepting requests, lets requests in flight finish up to the shutdown timeout. */
  @Override
  public void close() {
    health.markNotServing();
    long millis = settings.shutdownTimeout().toMillis();
    binding.terminate(settings.shutdownTimeout()).toCompletableFuture()
        .orTimeout(millis + 1000, TimeUnit.MILLISECONDS).exceptionally(e -> null).join();
    if (metricsBinding != null) {
      metricsBinding.unbind().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS)
          .exceptionally(e -> null).join();
    }
    metrics.close();
    split.ifPresent(s -> {
      List<Integer> all = new ArrayList<>(s.server());
      all.addAll(s.engines());
      all.sort(null);
      CpuAffinity.pinAllThreads(all);
    });
  }

  /** The actor system the server runs in. */
  public ActorSystem<?> system() {
    return system;
  }
}
