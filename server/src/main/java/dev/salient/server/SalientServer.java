package dev.salient.server;

import dev.salient.grpc.Explainer;
import dev.salient.grpc.ExplainerPowerApiHandlerFactory;
import dev.salient.server.auth.TokenFile;
import dev.salient.server.cluster.ClusterMetrics;
import dev.salient.server.cluster.ClusterNode;
import dev.salient.server.cluster.ClusterSettings;
import dev.salient.server.cluster.ClusterView;
import dev.salient.server.cluster.Gateway;
import dev.salient.server.cluster.WorkerNode;
import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.grpc.AccessLog;
import dev.salient.server.grpc.Authentication;
import dev.salient.server.grpc.ExplainerService;
import dev.salient.server.grpc.GrpcErrors;
import dev.salient.server.grpc.HealthService;
import dev.salient.server.grpc.InferenceService;
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
import dev.salient.inference.grpc.GRPCInferenceService;
import dev.salient.inference.grpc.GRPCInferenceServicePowerApiHandlerFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.grpc.javadsl.ServerReflection;
import org.apache.pekko.grpc.javadsl.ServiceHandler;
import org.apache.pekko.http.javadsl.ConnectionContext;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.SystemMaterializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts Salient in an actor system: loads the models onto each device's engine thread, spawns
 * the supervisor and its workers, and binds the Explainer, Health, Open Inference Protocol
 * (inference.GRPCInferenceService) and reflection services.
 */
public final class SalientServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SalientServer.class);
  /**
   * How long connections may stay open once every request has its status: enough for the last
   * trailers to reach their clients; then streams that never end (health Watch) are cut.
   */
  private static final Duration CONNECTIONS_CLOSE_WITHIN = Duration.ofSeconds(1);
  /**
   * How long the drain waits, once every request has ended, before it closes the connections: a
   * request cut off at the end of the drain period has its status handed to its stream, which
   * writes it out asynchronously, and closing the connection at once can drop it ("io exception"
   * at the client instead of UNAVAILABLE).
   */
  private static final Duration STATUSES_FLUSH_WITHIN = Duration.ofMillis(250);
  /** The coordinated-shutdown phase that waits for the drain. */
  static final String DRAIN_PHASE_TIMEOUT_KEY =
      "pekko.coordinated-shutdown.phases.service-requests-done.timeout";

  private final ActorSystem<?> system;
  private final ServerBinding binding;
  private final MetricsEndpoint metrics;
  private final ServerBinding metricsBinding;
  private final HealthService health;
  private final ModelCatalog catalog;
  private final SalientSettings settings;
  private final Optional<CoreSplit> split;
  private final DecodeBudget decodeBudget;
  /** This node's supervisor of its device workers; absent on a gateway-only cluster node. */
  private final Optional<ActorRef<ExplainSupervisor.Command>> supervisor;
  /** Where requests go: the cluster's gateway on a cluster node, else the supervisor. */
  private final Optional<ActorRef<ExplainSupervisor.Command>> placement;
  /** This node's worker-node actor in a cluster. */
  private final Optional<ActorRef<WorkerNode.Command>> workerNode;
  /** The cluster this server is a node of, when it is one. */
  private final Optional<ClusterView> cluster;
  private final ActorRef<VideoSessions.Command> videoSessions;
  /** The periodic check of the tokens file, when there is one. */
  private final Optional<Cancellable> tokenReload;
  /** The shutdown steps, each run once (by close() or by coordinated shutdown); guarded by this. */
  private CompletionStage<Done> stoppedAccepting;
  private CompletionStage<Done> drained;
  private CompletionStage<Done> released;

  private SalientServer(ActorSystem<?> system, ServerBinding binding, MetricsEndpoint metrics,
      ServerBinding metricsBinding, HealthService health, ModelCatalog catalog,
      SalientSettings settings, Optional<CoreSplit> split, DecodeBudget decodeBudget,
      Optional<ActorRef<ExplainSupervisor.Command>> supervisor,
      Optional<ActorRef<ExplainSupervisor.Command>> placement,
      Optional<ActorRef<WorkerNode.Command>> workerNode, Optional<ClusterView> cluster,
      ActorRef<VideoSessions.Command> videoSessions, Optional<Cancellable> tokenReload) {
    this.placement = placement;
    this.workerNode = workerNode;
    this.cluster = cluster;
    this.tokenReload = tokenReload;
    this.split = split;
    this.decodeBudget = decodeBudget;
    this.supervisor = supervisor;
    this.videoSessions = videoSessions;
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
    // Before the models load, so a bad certificate, key or tokens file fails at once.
    Optional<SSLContext> tls = settings.tls().sslContext();
    requireTlsOffLoopback(settings);
    Optional<TokenFile> tokens = settings.auth().load();
    Optional<CoreSplit> split = pinThreads(settings);
    List<Integer> engineCores = split.map(CoreSplit::engines).orElse(List.of());
    // A cluster node (./salient serve) has roles; an actor system of the local provider (tests
    // that start a server in their own system) is a single node with both.
    Optional<ClusterSettings> clustered = isClusterNode(system)
        ? Optional.of(ClusterSettings.from(system.settings().config())) : Optional.empty();
    boolean worker = clustered.map(ClusterSettings::worker).orElse(true);
    boolean gateway = clustered.map(ClusterSettings::gateway).orElse(true);
    List<DeviceWorker.DeviceRuntime> runtimes = new ArrayList<>();
    for (String device : worker ? settings.devices() : List.<String>of()) {
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
    DecodeBudget decodeBudget =
        new DecodeBudget(settings.decodeBudget(), settings.decodeBudgetWait(),
            settings.maxPixels());
    // Methods decode the images among their parameters (an Integrated Gradients baseline) on the
    // engine threads, which must not wait for other requests' images to be done.
    Optional<ActorRef<ExplainSupervisor.Command>> supervisor = worker
        ? Optional.of(system.systemActorOf(
            ExplainSupervisor.create(catalog, methods, runtimes, settings.workerSettings(),
                settings.maxInFlight(), settings.maxInFlightPerClient(), metrics,
                decodeBudget.withoutWaiting()),
            "explain-supervisor", Props.empty()))
        : Optional.empty();
    Optional<ActorRef<WorkerNode.Command>> workerNode = Optional.empty();
    Optional<ClusterView> cluster = Optional.empty();
    Optional<ActorRef<ExplainSupervisor.Command>> placement = supervisor;
    if (clustered.isPresent()) {
      ClusterNode.join(system, clustered.get());
      List<String> modelNames = catalog.all().stream().map(m -> m.name()).toList();
      ActorRef<Topic.Command<WorkerNode.WorkerLoad>> loadTopic = system.systemActorOf(
          Topic.create(WorkerNode.WorkerLoad.class, WorkerNode.LOAD_TOPIC), "salient-load-topic",
          Props.empty());
      if (worker) {
        workerNode = Optional.of(system.systemActorOf(WorkerNode.create(supervisor.get(),
            modelNames, metrics, settings.streamBuffer(), loadTopic,
            clustered.get().loadReportInterval()), "worker-node", Props.empty()));
      }
      if (gateway) {
        cluster = Optional.of(new ClusterView(system));
        placement = Optional.of(system.systemActorOf(Gateway.create(catalog, methods,
            supervisor, modelNames, settings.maxInFlight(), settings.maxInFlightPerClient(),
            loadTopic, cluster.get()), "gateway", Props.empty()));
        ClusterMetrics.register(endpoint.registry(), cluster.get());
      }
    }
    if (!gateway) {
      log.info("Salient worker node {} serving the cluster (models {}; workers {}); no gRPC "
          + "port on a worker-only node", system.address(),
          catalog.all().stream().map(m -> m.name()).toList(),
          runtimes.stream().map(DeviceWorker.DeviceRuntime::name).toList());
      SalientServer server = new SalientServer(system, null, endpoint,
          bindMetrics(system, settings, endpoint, null), new HealthService(),
          catalog, settings, split, decodeBudget, supervisor, placement, workerNode, cluster,
          null, tokenReloadNone());
      server.joinCoordinatedShutdown();
      return server;
    }
    ActorRef<VideoSessions.Command> videoSessions = system.systemActorOf(
        VideoSessions.create(placement.get(), metrics), "video-sessions", Props.empty());
    AccessLog accessLog = new AccessLog(settings.accessLog());
    ExplainerService explainer = new ExplainerService(catalog, methods, placement.get(), videoSessions,
        metrics, system, system.dispatchers().lookup(DispatcherSelector.blocking()),
        settings.streamBuffer(), settings.videoMaxInFlight(), decodeBudget, accessLog, cluster);
    HealthService health = new HealthService();
    Materializer mat = SystemMaterializer.get(system).materializer();
    var handler = ServiceHandler.concatOrNotFound(
        ExplainerPowerApiHandlerFactory.partial(explainer, Explainer.name, mat, GrpcErrors.handler(),
            system),
        HealthHandlerFactory.partial(health, Health.name, mat, GrpcErrors.handler(), system),
        GRPCInferenceServicePowerApiHandlerFactory.partial(
            new InferenceService(catalog, explainer, health, accessLog),
            GRPCInferenceService.name, mat, GrpcErrors.handler(), system),
        ServerReflection.create(List.of(Explainer.description, Health.description,
            GRPCInferenceService.description), system));
    long maxMessageSize = settings.messageSizeFor(catalog.all().stream()
        .mapToLong(m -> 4L * m.input().size()).max().orElse(0));
    CompletionStage<ServerBinding> bound =
        serverAt(system, settings, tls)
            .bind(Authentication.apply(MessageSizeLimit.apply(
                ResponseCompression.apply(handler, settings.compressResponses()),
                maxMessageSize), tokens, settings.auth().publicServices(), accessLog, system));
    ServerBinding binding = bound.toCompletableFuture().join();
    log.info("Salient listening on {} (models {}; workers {}; messages up to {} bytes, "
        + "decode budget {} MiB)", binding.localAddress(),
        catalog.all().stream().map(m -> m.name()).toList(),
        runtimes.stream().map(DeviceWorker.DeviceRuntime::name).toList(), maxMessageSize,
        settings.decodeBudget() >> 20);
    ServerBinding metricsBinding = bindMetrics(system, settings, endpoint, binding);
    logAuthentication(settings, tokens);
    Optional<Cancellable> tokenReload = tokens.map(file -> system.scheduler()
        .scheduleWithFixedDelay(settings.auth().reloadInterval(),
            settings.auth().reloadInterval(), file::reload,
            system.dispatchers().lookup(DispatcherSelector.blocking())));
    SalientServer server = new SalientServer(system, binding, endpoint, metricsBinding, health,
        catalog, settings, split, decodeBudget, supervisor, placement, workerNode, cluster,
        videoSessions, tokenReload);
    server.joinCoordinatedShutdown();
    return server;
  }

  /** Serves GET /metrics unless the metrics port is off; on failure unbinds {@code grpc}. */
  private static ServerBinding bindMetrics(ActorSystem<?> system, SalientSettings settings,
      MetricsEndpoint endpoint, ServerBinding grpc) {
    if (settings.metricsPort() == SalientSettings.METRICS_OFF) {
      return null;
    }
    ServerBinding metricsBinding;
    try {
      metricsBinding = endpoint.bind(system, settings.host(), settings.metricsPort())
          .toCompletableFuture().join();
    } catch (RuntimeException e) {
      if (grpc != null) {
        grpc.unbind();
      }
      throw new IllegalStateException("cannot serve metrics on " + settings.host() + ":"
          + settings.metricsPort() + " (" + e.getMessage() + "); choose another "
          + "metrics-port or turn it off", e);
    }
    log.info("metrics for Prometheus at http://{}:{}{}",
        metricsBinding.localAddress().getHostString(), metricsBinding.localAddress().getPort(),
        MetricsEndpoint.PATH);
    return metricsBinding;
  }

  private static Optional<Cancellable> tokenReloadNone() {
    return Optional.empty();
  }

  /** Whether {@code system} was started as a node of a cluster (see ClusterNode#config). */
  static boolean isClusterNode(ActorSystem<?> system) {
    String provider = system.settings().config().getString("pekko.actor.provider");
    return provider.equals("cluster") || provider.endsWith("ClusterActorRefProvider");
  }

  /**
   * Refuses plaintext on an address other than loopback, unless TLS is configured or
   * {@code salient.allow-plaintext-on-network} says the network is trusted.
   *
   * @throws IllegalArgumentException naming the address and the two ways out
   */
  static void requireTlsOffLoopback(SalientSettings settings) {
    if (settings.tls().enabled() || settings.allowPlaintextOnNetwork()
        || isLoopback(settings.host())) {
      return;
    }
    throw new IllegalArgumentException("refusing to serve plaintext on " + settings.host()
        + ", which is not a loopback address: bearer tokens and images would cross the network "
        + "readable by anyone on the path. Configure TLS (salient.tls.certificate and "
        + "salient.tls.private-key), or set salient.allow-plaintext-on-network = true "
        + "(./salient serve --allow-plaintext-on-network) where the network is trusted, e.g. "
        + "behind a TLS-terminating proxy");
  }

  private static boolean isLoopback(String host) {
    try {
      for (InetAddress address : InetAddress.getAllByName(host)) {
        if (!address.isLoopbackAddress()) {
          return false;
        }
      }
      return true;
    } catch (UnknownHostException e) {
      // Binding will fail with the unknown host.
      return true;
    }
  }

  /** Says once who may call: the tokens, or a warning where anyone on a network may. */
  private static void logAuthentication(SalientSettings settings, Optional<TokenFile> tokens) {
    if (tokens.isPresent()) {
      log.info("authentication: {} tokens in {} (checked for changes every {} ms); public "
          + "without a token: {}", tokens.get().tokens().size(), tokens.get().path(),
          settings.auth().reloadInterval().toMillis(),
          settings.auth().publicServices().stream().sorted().toList());
    } else if (!isLoopback(settings.host())) {
      log.warn("no authentication (salient.auth.tokens-file is empty): anyone who can reach {} "
          + "can use the server", settings.host());
    }
  }

  /**
   * The builder for the gRPC port: plaintext HTTP/2, or TLS with {@code tls} (Pekko HTTP adds
   * ALPN's h2 to the engine), requiring client certificates when the settings name a client CA.
   */
  private static ServerBuilder serverAt(
      ActorSystem<?> system, SalientSettings settings, Optional<SSLContext> tls) {
    ServerBuilder builder = Http.get(system).newServerAt(settings.host(), settings.port());
    if (tls.isEmpty()) {
      return builder;
    }
    boolean mutual = settings.tls().mutual();
    log.info("TLS on the gRPC port ({}){}", settings.tls().certificate(),
        mutual ? ", client certificates signed by " + settings.tls().clientCa() + " required" : "");
    return builder.enableHttps(ConnectionContext.httpsServer(() -> {
      SSLEngine engine = tls.get().createSSLEngine();
      engine.setUseClientMode(false);
      engine.setNeedClientAuth(mutual);
      return engine;
    }));
  }

  /**
   * SIGTERM (through Pekko's JVM hook) or the system's termination runs the shutdown steps in
   * the phases Pekko HTTP documents: stop accepting, drain the requests, release the rest.
   */
  private void joinCoordinatedShutdown() {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
    shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "salient-announce", () -> {
      if (!drainStarted()) {
        // Logging may already be shut down inside a JVM shutdown hook: write to stderr.
        System.err.println("salient: shutting down; draining requests for up to "
            + settings.shutdownTimeout().toMillis() + " ms");
      }
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    shutdown.addTask(CoordinatedShutdown.PhaseServiceUnbind(), "salient-stop-accepting",
        this::stopAccepting);
    shutdown.addTask(CoordinatedShutdown.PhaseServiceRequestsDone(), "salient-drain",
        this::drain);
    shutdown.addTask(CoordinatedShutdown.PhaseServiceStop(), "salient-release", this::release);
    var config = system.settings().config();
    Duration phase = config.hasPath(DRAIN_PHASE_TIMEOUT_KEY)
        ? config.getDuration(DRAIN_PHASE_TIMEOUT_KEY)
        : config.getDuration("pekko.coordinated-shutdown.default-phase-timeout");
    Duration needed = drainLimit(settings.shutdownTimeout());
    if (phase.compareTo(needed) < 0) {
      log.warn("{} is {} ms, less than the {} ms a drain of salient.shutdown-timeout {} ms may "
          + "take: on SIGTERM the actor system would stop before every request has its status; "
          + "raise it", DRAIN_PHASE_TIMEOUT_KEY, phase.toMillis(), needed.toMillis(),
          settings.shutdownTimeout().toMillis());
    }
  }

  /**
   * The longest a drain of {@code shutdownTimeout} takes: the period itself, ending what still
   * runs, and closing the connections.
   */
  static Duration drainLimit(Duration shutdownTimeout) {
    return shutdownTimeout.plus(STATUSES_FLUSH_WITHIN).plus(CONNECTIONS_CLOSE_WITHIN)
        .plusSeconds(2);
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

  /**
   * The bound gRPC address (useful with port 0).
   *
   * @throws IllegalStateException on a worker-only cluster node, which serves no gRPC
   */
  public InetSocketAddress address() {
    if (binding == null) {
      throw new IllegalStateException("a worker-only cluster node serves no gRPC port");
    }
    return binding.localAddress();
  }

  /** Whether this node serves gRPC (every node but a worker-only cluster node). */
  public boolean servesGrpc() {
    return binding != null;
  }

  /** The cluster this server is a node of, and what its gateway knows of it. */
  public Optional<ClusterView> cluster() {
    return cluster;
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

  /**
   * Drains and stops: health turns NOT_SERVING, new requests are refused with UNAVAILABLE,
   * running ones get {@code salient.shutdown-timeout} and are then ended with UNAVAILABLE.
   * Blocks until done; coordinated shutdown runs the same steps (once).
   */
  @Override
  public void close() {
    drain().toCompletableFuture()
        .orTimeout(drainLimit(settings.shutdownTimeout()).toMillis(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> Done.getInstance()).join();
    release().toCompletableFuture().join();
  }

  private synchronized boolean drainStarted() {
    return stoppedAccepting != null;
  }

  /**
   * Health turns NOT_SERVING and the port is unbound: no new connections. Connections already
   * open stay, so their clients hear the refusal of new requests as a status.
   */
  private synchronized CompletionStage<Done> stopAccepting() {
    if (stoppedAccepting == null) {
      health.markNotServing();
      workerNode.ifPresent(node -> node.tell(WorkerNode.Drain.INSTANCE));
      stoppedAccepting = binding == null ? CompletableFuture.completedFuture(Done.getInstance())
          : binding.unbind().exceptionally(e -> Done.getInstance());
    }
    return stoppedAccepting;
  }

  /**
   * Refuses new requests and waits for the running ones, up to the drain period, after which
   * the supervisor and the video sessions end them with UNAVAILABLE; then closes the
   * connections, whose requests all have their status by then.
   */
  private synchronized CompletionStage<Done> drain() {
    if (drained == null) {
      Duration period = settings.shutdownTimeout();
      Duration askTimeout = period.plusSeconds(2);
      List<CompletableFuture<Done>> running = new ArrayList<>();
      // The gateway's requests on other nodes, this node's own jobs, the video sessions.
      placement.filter(p -> !supervisor.equals(Optional.of(p))).ifPresent(gateway ->
          running.add(drainOf(gateway, period, askTimeout)));
      supervisor.ifPresent(s -> running.add(drainOf(s, period, askTimeout)));
      if (videoSessions != null) {
        running.add(AskPattern.<VideoSessions.Command, Done>ask(
            videoSessions, reply -> new VideoSessions.Drain(period, reply), askTimeout,
            system.scheduler()).toCompletableFuture());
      }
      drained = stopAccepting()
          .thenCompose(unbound -> CompletableFuture.allOf(
              running.toArray(CompletableFuture[]::new)))
          .handle((ok, error) -> {
            if (error != null) {
              log.warn("drain did not finish: {}", error.toString());
            }
            return Done.getInstance();
          })
          .thenCompose(done -> org.apache.pekko.pattern.Patterns.after(STATUSES_FLUSH_WITHIN,
              system.classicSystem().scheduler(), system.executionContext(),
              () -> binding == null ? CompletableFuture.completedFuture(Done.getInstance())
                  : binding.terminate(CONNECTIONS_CLOSE_WITHIN)
                      .thenApply(terminated -> Done.getInstance())))
          .handle((terminated, error) -> Done.getInstance());
    }
    return drained;
  }

  private CompletableFuture<Done> drainOf(ActorRef<ExplainSupervisor.Command> supervisor,
      Duration period, Duration askTimeout) {
    return AskPattern.<ExplainSupervisor.Command, Done>ask(supervisor,
        reply -> new ExplainSupervisor.Drain(period, reply), askTimeout, system.scheduler())
        .toCompletableFuture();
  }

  /** Stops the metrics endpoint and gives the threads every core back. */
  private synchronized CompletionStage<Done> release() {
    if (released == null) {
      if (metricsBinding != null) {
        metricsBinding.unbind().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS)
            .exceptionally(e -> null).join();
      }
      metrics.close();
      tokenReload.ifPresent(Cancellable::cancel);
      split.ifPresent(s -> {
        List<Integer> all = new ArrayList<>(s.server());
        all.addAll(s.engines());
        all.sort(null);
        CpuAffinity.pinAllThreads(all);
      });
      released = CompletableFuture.completedFuture(Done.getInstance());
    }
    return released;
  }

  /** The actor system the server runs in. */
  public ActorSystem<?> system() {
    return system;
  }
}
