package dev.salient.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.salient.grpc.ClusterMember;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.Target;
import dev.salient.grpc.WorkerNodeStats;
import dev.salient.grpc.WorkerStats;
import dev.salient.server.engine.TestImages;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes started as the container image starts them (its JVM argument file, its
 * configuration, its environment variables), each in a JVM of its own on loopback, form a
 * cluster by Pekko Management's Cluster Bootstrap: by config discovery, and by Kubernetes API
 * discovery against a local HTTPS stub of {@code /api/v1/namespaces/{ns}/pods}. Every node turns
 * ready ({@code /ready}), the cluster serves a request, and a node sent SIGTERM finishes the
 * requests it runs before it leaves (membership Removed) and exits.
 */
@Tag("evaluation")
class ClusterBootstrapTest {
  private static final Duration START = Duration.ofSeconds(120);
  private static final Duration READY = Duration.ofSeconds(90);
  private static final String NAMESPACE = "salient-test";
  private static final String TOKEN = "service-account-token-of-the-test";

  static Path image;

  @TempDir
  Path dir;
  final List<NodeProcess> nodes = new ArrayList<>();
  final List<Ports> ports = new ArrayList<>();
  ActorSystem<Void> clientSystem;
  ExplainerClient client;
  HttpsServer apiServer;

  /** The four ports a node takes on loopback. */
  record Ports(int grpc, int metrics, int cluster, int management) {
    static Ports free() {
      return new Ports(NodeProcess.freePort(), NodeProcess.freePort(), NodeProcess.freePort(),
          NodeProcess.freePort());
    }

    String address() {
      return "pekko://salient@127.0.0.1:" + cluster;
    }
  }

  @BeforeAll
  static void findTheImageFiles() {
    Path here = Path.of("").toAbsolutePath();
    while (here != null && !Files.exists(here.resolve("deploy/image/salient.conf"))) {
      here = here.getParent();
    }
    assertTrue(here != null, "no deploy/image/salient.conf above " + Path.of("").toAbsolutePath());
    image = here.resolve("deploy/image");
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    if (client != null) {
      client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      clientSystem.terminate();
    }
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).close();
    }
    if (apiServer != null) {
      apiServer.stop(0);
    }
  }

  @Test
  void configDiscoveryFormsAClusterThatServesAndANodeLeavesGracefullyOnSigterm()
      throws Exception {
    for (int i = 0; i < 3; i++) {
      ports.add(Ports.free());
    }
    String endpoints = ports.stream()
        .map(p -> "{host = \"127.0.0.1\", port = " + p.management() + "}")
        .collect(Collectors.joining(", "));
    Path conf = testConfig("pekko.discovery.config.services.salient.endpoints = ["
        + endpoints + "]");
    startNodes(conf, Map.of("SALIENT_DISCOVERY_METHOD", "config"));

    formsReadyAndServes();
    aNodeSentSigtermDrainsItsRequestsAndIsRemoved();
  }

  @Test
  void kubernetesApiDiscoveryFormsAClusterThatServesAndANodeLeavesGracefullyOnSigterm()
      throws Exception {
    for (int i = 0; i < 3; i++) {
      ports.add(Ports.free());
    }
    List<String> asked = new CopyOnWriteArrayList<>();
    Path ca = startApiServer(asked);
    Path token = Files.writeString(dir.resolve("token"), TOKEN);
    Path conf = testConfig("pekko.discovery.kubernetes-api {\n"
        + "  api-ca-path = \"" + ca + "\"\n  api-token-path = \"" + token + "\"\n"
        + "  pod-namespace = \"" + NAMESPACE + "\"\n}");
    startNodes(conf, Map.of("SALIENT_DISCOVERY_METHOD", "kubernetes-api",
        "KUBERNETES_SERVICE_HOST", "127.0.0.1",
        "KUBERNETES_SERVICE_PORT", Integer.toString(apiServer.getAddress().getPort())));

    formsReadyAndServes();
    assertTrue(asked.contains("/api/v1/namespaces/" + NAMESPACE
            + "/pods?labelSelector=app.kubernetes.io/part-of=salient Bearer " + TOKEN),
        "the nodes asked the API server " + asked.stream().distinct().toList());
    aNodeSentSigtermDrainsItsRequestsAndIsRemoved();
  }

  /**
   * Every node serves {@code /alive}, is ready once the three are Up members, and the cluster
   * answers an explanation through the first node.
   */
  private void formsReadyAndServes() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      nodes.get(i).await("Salient listening on", START);
      assertEquals(200, status(ports.get(i).management(), "/alive"), "node " + i + " /alive");
    }
    for (int i = 0; i < 3; i++) {
      awaitStatus(ports.get(i).management(), "/ready", 200, READY);
    }
    clientSystem = ActorSystem.create(Behaviors.empty(), "bootstrap-test-client");
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", ports.get(0).grpc(), clientSystem).withTls(false),
        clientSystem);
    StatsResponse stats = stats();
    assertEquals(ports.stream().map(Ports::address).sorted().toList(),
        stats.getCluster().getMembersList().stream().map(ClusterMember::getAddress).sorted()
            .toList(), stats.getCluster().toString());
    assertTrue(stats.getCluster().getMembersList().stream()
        .allMatch(m -> m.getStatus().equals("Up")), stats.getCluster().toString());
    assertTrue(nodes.get(0).output().contains("Cluster Bootstrap: finding 3 or more nodes"),
        nodes.get(0).output());

    List<ExplainEvent> events = client.explain(request("vanilla")).runWith(Sink.seq(),
        clientSystem).toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
    assertTrue(events.get(events.size() - 1).hasResult(), events.toString());
  }

  /**
   * Long requests through the first node run on every worker node; the last node, sent
   * SIGTERM, drains (the gateways see it draining and it finishes each request it runs), then
   * leaves: the others see it Leaving or Exiting and then no more, never Down or unreachable
   * as a crashed node would be, and it exits.
   */
  private void aNodeSentSigtermDrainsItsRequestsAndIsRemoved() throws InterruptedException {
    List<CompletableFuture<List<ExplainEvent>>> running = new ArrayList<>();
    String leaving = ports.get(2).address();
    // Requests go to the least-loaded node as reported; on a busy machine the first ones may
    // all land elsewhere or end before a report shows them, so more are sent until the leaving
    // node is seen running one (at most 30 in all).
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!runsARequest(leaving)) {
      assertTrue(System.nanoTime() < deadline && running.size() < 30, leaving
          + " not running a request in 60 s with " + running.size() + " sent: "
          + stats().getCluster().getWorkerNodesList());
      for (int i = 0; i < 3; i++) {
        // BIM steps too small to flip the class: seconds of work, well within the drain.
        ExplainRequest bim = request("bim").toBuilder().putParams("alpha", "0.000001")
            .putParams("max_iterations", "400").setTarget(Target.newBuilder().setRank(2))
            .setFrameStride(100000).build();
        running.add(client.explain(bim).runWith(Sink.seq(), clientSystem).toCompletableFuture());
      }
      // Worker nodes report their load every load-report-interval; nothing to wait on instead.
      TimeUnit.MILLISECONDS.sleep(500);
    }

    NodeProcess node = nodes.get(2);
    CompletableFuture<Boolean> exited = CompletableFuture.supplyAsync(() -> {
      try {
        return node.terminate(Duration.ofSeconds(90));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    });
    awaitWorkerNode(leaving, WorkerNodeStats::getDraining, "draining");
    for (CompletableFuture<List<ExplainEvent>> call : running) {
      List<ExplainEvent> events = call.orTimeout(2, TimeUnit.MINUTES).join();
      assertTrue(events.get(events.size() - 1).hasResult(), events.toString());
    }
    List<String> seen = new ArrayList<>();
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      List<ClusterMember> members = stats().getCluster().getMembersList();
      var member = members.stream().filter(m -> m.getAddress().equals(leaving)).findFirst();
      if (member.isEmpty()) {
        break;
      }
      String state = member.get().getStatus() + (member.get().getReachable() ? "" : "/unreachable");
      if (seen.isEmpty() || !seen.get(seen.size() - 1).equals(state)) {
        seen.add(state);
      }
      assertTrue(System.nanoTime() < deadline, "still a member after 60 s: " + seen);
      // Membership is read through the gateway's Stats; there is no stream of it to wait on.
      TimeUnit.MILLISECONDS.sleep(100);
    }
    assertTrue(seen.stream().anyMatch(s -> s.equals("Leaving") || s.equals("Exiting")),
        "the node was never seen leaving: " + seen);
    assertTrue(seen.stream().noneMatch(s -> s.startsWith("Down") || s.endsWith("unreachable")),
        "the node was downed or unreachable, not left: " + seen);
    assertTrue(exited.orTimeout(90, TimeUnit.SECONDS).join(), "the node did not exit");
    // 128 + SIGTERM: what a JVM returns once its shutdown hooks (the drain, the leave) ran.
    assertEquals(143, node.exitValue());
    assertEquals(List.of(ports.get(0).address(), ports.get(1).address()).stream().sorted()
        .toList(), stats().getCluster().getMembersList().stream().map(ClusterMember::getAddress)
        .sorted().toList());
  }

  /** A configuration file that includes the image's and adds {@code extra}. */
  private Path testConfig(String extra) throws IOException {
    return Files.writeString(dir.resolve("node.conf"), "include file(\""
        + image.resolve("salient.conf") + "\")\n" + extra + "\n");
  }

  /**
   * Three nodes with the image's JVM options and configuration; the environment says what
   * Kubernetes would (the pod IP, the ports) and what makes three nodes on one machine fit
   * (one CPU worker each, the embedded model only).
   */
  private void startNodes(Path conf, Map<String, String> discoveryEnv) throws IOException {
    List<String> jvm = List.of("@" + image.resolve("jvm.options"), "-Dconfig.file=" + conf,
        "-Xmx768m", "-Dai.djl.pytorch.num_threads=1",
        "-Dsalient.scheduler.measure-best-batch=false");
    for (int i = 0; i < 3; i++) {
      Ports p = ports.get(i);
      Map<String, String> env = new HashMap<>(discoveryEnv);
      env.putAll(Map.of("POD_IP", "127.0.0.1", "SALIENT_PORT", Integer.toString(p.grpc()),
          "SALIENT_METRICS_PORT", Integer.toString(p.metrics()),
          "SALIENT_CLUSTER_PORT", Integer.toString(p.cluster()),
          "SALIENT_MANAGEMENT_PORT", Integer.toString(p.management()),
          "SALIENT_MANAGEMENT_BIND_HOST", "127.0.0.1", "SALIENT_MODELS", "",
          "SALIENT_CPU_WORKERS", "1", "SALIENT_REQUIRED_CONTACT_POINTS", "3",
          "SALIENT_SHUTDOWN_TIMEOUT", "30s"));
      // The image serves HTTP on 8080; three nodes on one host take a free port each.
      env.put("SALIENT_HTTP_PORT", "0");
      nodes.add(NodeProcess.start("node-" + i, jvm, env));
    }
  }

  /**
   * An HTTPS stub of the Kubernetes API server's pod list: the three nodes as Running pods of
   * the label, with their management ports; it records each request's path and token. Returns
   * the CA file the nodes trust (the stub's self-signed certificate for 127.0.0.1).
   */
  private Path startApiServer(List<String> asked) throws Exception {
    Path keystore = dir.resolve("api-server.p12");
    Path ca = dir.resolve("ca.crt");
    keytool("-genkeypair", "-alias", "api", "-keyalg", "RSA", "-keysize", "2048",
        "-validity", "2", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1",
        "-keystore", keystore.toString(), "-storetype", "PKCS12", "-storepass", "changeit",
        "-keypass", "changeit");
    keytool("-exportcert", "-rfc", "-alias", "api", "-keystore", keystore.toString(),
        "-storepass", "changeit", "-file", ca.toString());
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      store.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory keys = KeyManagerFactory.getInstance(
        KeyManagerFactory.getDefaultAlgorithm());
    keys.init(store, "changeit".toCharArray());
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(keys.getKeyManagers(), null, null);

    StringBuilder pods = new StringBuilder("{\"kind\": \"PodList\", \"items\": [");
    for (int i = 0; i < ports.size(); i++) {
      pods.append(i == 0 ? "" : ",").append("{\"metadata\": {\"name\": \"salient-").append(i)
          .append("\"}, \"spec\": {\"containers\": [{\"name\": \"salient\", \"ports\": [")
          .append("{\"name\": \"grpc\", \"containerPort\": ").append(ports.get(i).grpc())
          .append("}, {\"name\": \"management\", \"containerPort\": ")
          .append(ports.get(i).management()).append("}]}]}, \"status\": {\"phase\": ")
          .append("\"Running\", \"podIP\": \"127.0.0.1\", \"containerStatuses\": [{\"name\": ")
          .append("\"salient\", \"state\": {\"running\": {}}}]}}");
    }
    byte[] body = pods.append("]}").toString().getBytes(StandardCharsets.UTF_8);
    apiServer = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    apiServer.setHttpsConfigurator(new HttpsConfigurator(tls));
    apiServer.createContext("/api/v1/namespaces/", exchange -> {
      String authorization = exchange.getRequestHeaders().getFirst("Authorization");
      asked.add(exchange.getRequestURI().getPath() + "?" + exchange.getRequestURI().getQuery()
          + " " + authorization);
      boolean ours = exchange.getRequestURI().getPath()
          .equals("/api/v1/namespaces/" + NAMESPACE + "/pods")
          && ("Bearer " + TOKEN).equals(authorization);
      byte[] answer = ours ? body : "{\"kind\": \"Status\", \"code\": 403}".getBytes(
          StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(ours ? 200 : 403, answer.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(answer);
      }
    });
    apiServer.start();
    return ca;
  }

  private static void keytool(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(60, TimeUnit.SECONDS) && process.exitValue() == 0,
        "keytool " + String.join(" ", args) + ": " + output);
  }

  private static int status(int port, String path) {
    try {
      return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()
          .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
              .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding())
          .statusCode();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static void awaitStatus(int port, String path, int expected, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int last;
    while ((last = status(port, path)) != expected) {
      assertTrue(System.nanoTime() < deadline,
          "GET :" + port + path + " answered " + last + ", not " + expected + ", for " + timeout);
      // Polling the node's HTTP endpoint: Pekko Management has no push for readiness.
      TimeUnit.MILLISECONDS.sleep(250);
    }
  }

  private void awaitWorkerNode(String address, Predicate<WorkerNodeStats> condition,
      String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      List<WorkerNodeStats> workers = stats().getCluster().getWorkerNodesList();
      if (workers.stream().anyMatch(n -> n.getAddress().equals(address) && condition.test(n))) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, address + " not " + what + " in 30 s: " + workers);
      // Worker nodes report their load every load-report-interval; nothing to wait on instead.
      TimeUnit.MILLISECONDS.sleep(100);
    }
  }

  private boolean runsARequest(String address) {
    return stats().getCluster().getWorkerNodesList().stream().anyMatch(n -> n.getAddress()
        .equals(address) && n.getWorkersList().stream().mapToInt(WorkerStats::getActiveJobs)
        .sum() > 0);
  }

  private StatsResponse stats() {
    return client.stats(StatsRequest.getDefaultInstance()).toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS).join();
  }

  private static ExplainRequest request(String method) {
    return ExplainRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod(method).build();
  }
}
