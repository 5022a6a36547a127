package dev.salient.tools.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Target;
import dev.salient.grpc.WorkerNodeStats;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.util.CpuAffinity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * {@code ./salient bench --cluster}: {@value #JOBS} iterative requests kept in flight through one
 * gateway, run by separate server processes on this machine (issue 22). Two rows, each against a
 * baseline of the same run:
 *
 * <ul>
 *   <li>{@code cluster.scaleout}: two worker nodes against one, each worker node's process
 *       pinned to a core of its own ({@code taskset}); the one-node baseline is measured before
 *       and after the two-node window (the second node leaves with SIGTERM in between) and
 *       averaged, so a drift of the host's speed does not pass for scaling;
 *   <li>{@code cluster.remote}: a gateway node and a worker node against one node that is both,
 *       the worker's engine on the same core in both ({@code salient.cpu-affinity.server-cores
 *       = 1}: the engine on the second core, everything else on the first), in-process measured
 *       before and after the remote window.
 * </ul>
 */
final class ClusterBench {
  static final int JOBS = 16;
  private static final Pattern LISTENING = Pattern.compile("Salient listening on [^:]+:(\\d+)");
  private static final Pattern WORKER_NODE = Pattern.compile("Salient worker node (pekko://\\S+)");
  private static final long START_SECONDS = 120;

  private final ObjectMapper mapper = new ObjectMapper();
  private final double seconds;
  private final double warmupSeconds;
  private final String method;
  private final Map<String, String> params;
  private final VideoBench.Emitter out;
  private final Consumer<String> note;
  private final Path logs;
  private final ActorSystem<Void> clientSystem;
  private String label;
  private ModelPackage model;
  private byte[] png;
  /** The nodes' --models option: none for the embedded default model. */
  private List<String> modelArgs;

  /**
   * A bench measuring windows of {@code seconds} after {@code warmupSeconds} of the same load on
   * fresh processes, of {@code method} with {@code params}.
   */
  ClusterBench(double seconds, double warmupSeconds, String method, Map<String, String> params,
      VideoBench.Emitter out, Consumer<String> note) throws IOException {
    this.seconds = seconds;
    this.warmupSeconds = warmupSeconds;
    this.method = method;
    this.params = params;
    this.out = out;
    this.note = note;
    this.logs = Files.createTempDirectory("salient-cluster-bench");
    this.clientSystem = ActorSystem.create(Behaviors.empty(), "cluster-bench-client",
        ConfigFactory.load());
  }

  /**
   * Runs both rows on {@code model} (labelled {@code label}: the embedded default model, or a
   * package in a directory that every node serves), explaining {@code png}.
   */
  void run(String label, ModelPackage model, byte[] png) throws Exception {
    this.label = label;
    this.model = model;
    this.png = png;
    this.modelArgs = model.location() instanceof ModelPackage.DirectoryLocation d
        ? List.of("--models", d.directory().toString()) : List.of();
    List<Integer> cores = CpuAffinity.supported() ? CpuAffinity.ofCurrentThread() : List.of();
    if (cores.size() < 2) {
      note.accept("cluster bench skipped: it needs two cores this process may use (found "
          + cores + ")");
      return;
    }
    if (!Files.isExecutable(Path.of("/usr/bin/taskset"))) {
      note.accept("cluster bench skipped: it pins each worker node to a core with taskset "
          + "(util-linux), which is not installed");
      return;
    }
    note.accept("cluster bench: node logs in " + logs);
    ExplainRequest request = request();
    scaleOut(request, cores);
    remoteAgainstInProcess(request);
  }

  /** Stops the bench's client. */
  void close() {
    clientSystem.terminate();
  }

  private void scaleOut(ExplainRequest request, List<Integer> cores) throws Exception {
    int seedPort = freePort();
    String seed = "127.0.0.1:" + seedPort;
    try (Node gateway = node("scaleout-gateway", List.of(), List.of(), "--port",
            "0", "--roles", "gateway", "--cluster-port", Integer.toString(seedPort));
        Node workerA = node("scaleout-worker-a", pinnedTo(cores.get(0)), List.of(),
            "--roles", "worker", "--seed-nodes", seed)) {
      ExplainerClient client = client(gateway.await(LISTENING));
      workerA.await(WORKER_NODE);
      awaitWorkerNodes(client, 1);
      double oneBefore = measure(client, request, "1 worker node");
      double two;
      try (Node workerB = node("scaleout-worker-b", pinnedTo(cores.get(1)),
          List.of(), "--roles", "worker", "--seed-nodes", seed)) {
        workerB.await(WORKER_NODE);
        awaitWorkerNodes(client, 2);
        two = measure(client, request, "2 worker nodes");
        workerB.terminate();
      }
      awaitWorkerNodes(client, 1);
      double oneAfter = measure(client, request, "1 worker node, again");
      double one = (oneBefore + oneAfter) / 2;
      out.emit("cluster.scaleout", label, two, "jobs/s", "1 worker node", one,
          extra().put("one_node_before", round(oneBefore)).put("one_node_after",
              round(oneAfter)).put("worker_cores", cores.subList(0, 2).toString()));
      client.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  private void remoteAgainstInProcess(ExplainRequest request) throws Exception {
    List<String> engineOnSecondCore = List.of("-Dsalient.cpu-affinity.server-cores=1");
    double inProcessBefore = inProcess(request, engineOnSecondCore, "in-process");
    double remote;
    int seedPort = freePort();
    try (Node gateway = node("remote-gateway", List.of(), List.of(), "--port", "0",
            "--roles", "gateway", "--cluster-port", Integer.toString(seedPort));
        Node worker = node("remote-worker", List.of(), engineOnSecondCore,
            "--roles", "worker", "--seed-nodes", "127.0.0.1:" + seedPort)) {
      ExplainerClient client = client(gateway.await(LISTENING));
      worker.await(WORKER_NODE);
      awaitWorkerNodes(client, 1);
      remote = measure(client, request, "remote worker node");
      client.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    double inProcessAfter = inProcess(request, engineOnSecondCore, "in-process, again");
    double inProcess = (inProcessBefore + inProcessAfter) / 2;
    out.emit("cluster.remote", label, remote, "jobs/s", "in-process", inProcess,
        extra().put("in_process_before", round(inProcessBefore))
            .put("in_process_after", round(inProcessAfter)));
  }

  private double inProcess(ExplainRequest request, List<String> jvmOptions, String name)
      throws Exception {
    try (Node node = node(name.replace(", ", "-").replace(' ', '-'), List.of(),
        jvmOptions, "--port", "0")) {
      ExplainerClient client = client(node.await(LISTENING));
      awaitWorkerNodes(client, 1);
      double rate = measure(client, request, name);
      client.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
      return rate;
    }
  }

  /** Starts node {@code name} of this model's runs. */
  private Node node(String name, List<String> prefix, List<String> jvmOptions, String... args)
      throws IOException {
    return Node.start(logs.resolve(label + "-" + name + ".log"), modelArgs, prefix, jvmOptions,
        args);
  }

  private ObjectNode extra() {
    return mapper.createObjectNode().put("method", method).put("params", params.toString())
        .put("concurrent", JOBS).put("window_s", round(seconds));
  }

  private ExplainRequest request() {
    return ExplainRequest.newBuilder().setModel(model.name()).setMethod(method)
        .putAllParams(params).setTarget(Target.newBuilder().setRank(2))
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(png))).build();
  }

  private ExplainerClient client(String port) {
    return ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", Integer.parseInt(port), clientSystem).withTls(false),
        clientSystem);
  }

  /**
   * Completed requests per second of {@value #JOBS} closed loops (each sends its next request
   * when its last has ended), over a window after the warm-up.
   */
  private double measure(ExplainerClient client, ExplainRequest request, String name)
      throws Exception {
    AtomicLong done = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int i = 0; i < JOBS; i++) {
      CompletableFuture<Void> loop = new CompletableFuture<>();
      loop(client, request, done, stop, loop);
      loops.add(loop);
    }
    TimeUnit.NANOSECONDS.sleep((long) (warmupSeconds * 1e9));
    long start = System.nanoTime();
    long before = done.get();
    TimeUnit.NANOSECONDS.sleep((long) (seconds * 1e9));
    long count = done.get() - before;
    double elapsed = (System.nanoTime() - start) / 1e9;
    stop.set(true);
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
    double rate = count / elapsed;
    note.accept(String.format(java.util.Locale.ROOT, "cluster bench, %s: %d requests in %.1f s,"
        + " %.2f/s", name, count, elapsed, rate));
    return rate;
  }

  private void loop(ExplainerClient client, ExplainRequest request, AtomicLong done,
      AtomicBoolean stop, CompletableFuture<Void> finished) {
    client.explain(request).runWith(Sink.ignore(), clientSystem).whenComplete((ok, error) -> {
      if (error != null) {
        finished.completeExceptionally(error);
        return;
      }
      done.incrementAndGet();
      if (stop.get()) {
        finished.complete(null);
      } else {
        loop(client, request, done, stop, finished);
      }
    });
  }

  /**
   * Waits until the gateway sees {@code count} worker nodes taking work: their load reports
   * arrive every load-report-interval, so this polls the gateway's Stats.
   */
  private void awaitWorkerNodes(ExplainerClient client, int count) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
    while (true) {
      StatsResponse stats = client.stats(StatsRequest.getDefaultInstance())
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      List<WorkerNodeStats> live = stats.getCluster().getWorkerNodesList().stream()
          .filter(n -> !n.getDraining()).toList();
      if (live.size() == count) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the gateway saw " + live.size() + " worker nodes, not "
            + count + ", after " + START_SECONDS + " s; node logs in " + logs);
      }
      // Load reports come every 500 ms by default: a poll of a fifth of that finds them soon.
      TimeUnit.MILLISECONDS.sleep(100);
    }
  }

  private static List<String> pinnedTo(int core) {
    return List.of("/usr/bin/taskset", "-c", Integer.toString(core));
  }

  private static int freePort() {
    try (ServerSocket socket = new ServerSocket(0)) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }

  /**
   * A server process ({@code ./salient serve}'s main class on this bench's class path), its
   * output in a log file the bench reads for the lines it waits for.
   */
  private record Node(String name, Process process, Path log) implements AutoCloseable {
    static Node start(Path log, List<String> models, List<String> prefix,
        List<String> jvmOptions, String... args) throws IOException {
      List<String> command = new ArrayList<>(prefix);
      command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx1g", "-Dai.djl.offline=true", "-Dsalient.cpu-workers=1",
          "-Dsalient.scheduler.max-in-flight=4096",
          "-Dsalient.scheduler.max-in-flight-per-client=4096"));
      command.addAll(jvmOptions);
      command.addAll(List.of("-cp", System.getProperty("java.class.path"),
          "dev.salient.server.Main", "--host", "127.0.0.1"));
      command.addAll(Arrays.asList(args));
      command.addAll(models);
      Process process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(log.toFile()).start();
      return new Node(log.getFileName().toString(), process, log);
    }

    /** The first group of the first line of the log matching {@code pattern}. */
    String await(Pattern pattern) throws IOException, InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
      while (true) {
        for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
          Matcher m = pattern.matcher(line);
          if (m.find()) {
            return m.group(1);
          }
        }
        if (!process.isAlive() || System.nanoTime() > deadline) {
          throw new IllegalStateException("node " + name + (process.isAlive()
              ? " did not start within " + START_SECONDS + " s" : " exited") + "; see " + log);
        }
        // The log is a file the node writes; a bounded poll, as the node has no other channel.
        TimeUnit.MILLISECONDS.sleep(200);
      }
    }

    /** SIGTERM: the node drains and leaves the cluster. */
    void terminate() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }

    @Override
    public void close() throws InterruptedException {
      if (process.isAlive()) {
        terminate();
      }
    }
  }
}
