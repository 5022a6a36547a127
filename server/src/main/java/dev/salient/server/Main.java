package dev.salient.server;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import dev.salient.server.cluster.ClusterNode;
import dev.salient.server.cluster.ClusterSettings;
import dev.salient.server.cluster.Management;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CommonPool;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./salient serve}: starts the server and runs until interrupted. */
@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Serve explanations over gRPC (the embedded default model unless --models).")
public final class Main implements Callable<Integer> {

  @Option(names = "--host", description = "Address to bind (default from config: 127.0.0.1).")
  String host;

  @Option(names = "--port", description = "TCP port (default 50051; 0 picks a free port).")
  Integer port;

  @Option(names = "--models",
      description = "Directory of model packages (or one package) served after the default model.")
  String models;

  @Option(names = "--devices", split = ",",
      description = "Devices with a worker each: cpu, gpu:0, gpu:1 ... (default cpu).")
  List<String> devices;

  @Option(names = "--cpu-workers", description = "CPU workers, each with its own engine and its "
      + "share of the cores: auto (default: max(2, cores / 4), 1 on one core) or N.")
  String cpuWorkers;

  @Option(names = "--server-cores", description = "Pin the engines to cores of their own, "
      + "leaving the first N cores to everything else (gRPC, decoding, the JVM); default off.")
  String serverCores;

  @Option(names = "--max-batch", description = "Most images per engine call (default 32).")
  Integer maxBatch;

  @Option(names = "--metrics-port", description = "HTTP port serving GET /metrics for "
      + "Prometheus, on the same host (default off).")
  Integer metricsPort;

  @Option(names = "--http-port", description = "Port of the HTTP/JSON API and the web viewer "
      + "(/viewer/): auto (default: 8080), off, or a number.")
  String httpPort;

  @Option(names = "--allow-plaintext-on-network", description = "Serve plaintext on an "
      + "address other than loopback (otherwise refused without salient.tls): for a trusted "
      + "network, e.g. behind a TLS-terminating proxy.")
  Boolean allowPlaintextOnNetwork;

  @Option(names = "--cluster-host", description = "Address other cluster nodes reach this one "
      + "at (default: --host).")
  String clusterHost;

  @Option(names = "--cluster-port", description = "Cluster (Artery TCP) port (default 0: a free "
      + "one; seed nodes need a fixed one, e.g. 25520).")
  Integer clusterPort;

  @Option(names = "--seed-nodes", split = ",", description = "host:port of the cluster's seed "
      + "nodes to join (default none: this node forms a cluster of its own).")
  List<String> seedNodes;

  @Option(names = "--roles", split = ",", description = "gateway (serves gRPC, places requests), "
      + "worker (runs them on this node's devices), or both (default).")
  List<String> roles;

  /** Runs the command line. */
  public static void main(String[] args) {
    CommonPool.ensureAtLeastTwoThreads();
    System.exit(new CommandLine(new Main()).execute(args));
  }

  @Override
  public Integer call() throws InterruptedException {
    Config config = ConfigFactory.load();
    config = override(config, "salient.host", host);
    config = override(config, "salient.port", port);
    config = override(config, "salient.models", models);
    config = override(config, "salient.devices", devices);
    config = override(config, "salient.cpu-workers", cpuWorkers);
    config = override(config, "salient.cpu-affinity.server-cores", serverCores);
    config = override(config, "salient.scheduler.max-batch", maxBatch);
    config = override(config, "salient.metrics-port", metricsPort);
    config = override(config, "salient.http.port", httpPort);
    config = override(config, "salient.allow-plaintext-on-network", allowPlaintextOnNetwork);
    config = override(config, "salient.cluster.host", clusterHost);
    config = override(config, "salient.cluster.port", clusterPort);
    config = override(config, "salient.cluster.seed-nodes", seedNodes);
    config = override(config, "salient.cluster.roles", roles);
    SalientSettings settings;
    ClusterSettings cluster;
    try {
      settings = SalientSettings.create(config);
      cluster = ClusterSettings.from(config);
    } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
      System.err.println("salient: bad configuration: " + e.getMessage());
      return 2;
    }
    // Coordinated shutdown (run by Pekko's JVM hook on SIGTERM) must wait out the whole drain.
    config = override(config, SalientServer.DRAIN_PHASE_TIMEOUT_KEY,
        SalientServer.drainLimit(settings.shutdownTimeout()).toMillis() + "ms");
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), ClusterSettings.SYSTEM_NAME,
        Management.config(ClusterNode.config(config, cluster), cluster));
    SalientServer server;
    try {
      // Before the models load: probes see /alive, and bootstrap finds the others meanwhile.
      if (cluster.bootstrap()) {
        Management.start(system, cluster);
      }
      server = SalientServer.start(system, settings, SalientServer.catalogFor(settings),
          MethodRegistry.standard());
      Management.serving(system);
    } catch (RuntimeException e) {
      System.err.println("salient: cannot start: " + e.getMessage());
      system.terminate();
      return 1;
    }
    if (server.servesGrpc()) {
      var address = server.address();
      System.out.println("Salient listening on " + address.getHostString() + ":"
          + address.getPort() + " (models: "
          + server.catalog().all().stream().map(m -> m.name()).toList() + ")");
    } else {
      System.out.println("Salient worker node " + system.address() + " (models: "
          + server.catalog().all().stream().map(m -> m.name()).toList() + ")");
    }
    String scheme = settings.tls().enabled() ? "https" : "http";
    server.httpAddress().ifPresent(http -> System.out.println("Web viewer at " + scheme + "://"
        + http.getHostString() + ":" + http.getPort() + "/viewer/"));
    server.metricsAddress().ifPresent(metrics -> System.out.println("Metrics at http://"
        + metrics.getHostString() + ":" + metrics.getPort() + "/metrics"));
    System.out.flush();
    // SIGTERM runs Pekko's coordinated shutdown, whose phases drain the server (see
    // SalientServer) and then terminate the system.
    system.getWhenTerminated().toCompletableFuture().join();
    return 0;
  }

  private static Config override(Config config, String path, Object value) {
    return value == null ? config
        : config.withValue(path, ConfigValueFactory.fromAnyRef(value));
  }
}
