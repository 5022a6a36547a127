package dev.salient.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClusterMember;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.Image;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.grpc.WorkerNodeStats;
import dev.salient.grpc.WorkerStats;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Cluster nodes as actor systems of this JVM on loopback, each a server started as {@code
 * ./salient serve} starts one: a one-node cluster serves as a single server does, a gateway
 * with no worker node says so, and a video stream's frames stay on one worker node.
 */
class ClusterNodeTest {
  private final List<ActorSystem<Void>> systems = new ArrayList<>();
  private final List<SalientServer> servers = new ArrayList<>();
  private ActorSystem<Void> clientSystem;
  private ExplainerClient client;

  /** A node with {@code roles}, joining {@code seed} ("" : itself). */
  private SalientServer node(String roles, String seed, int clusterPort) {
    Config config = ConfigFactory.parseString("salient.port = 0\nsalient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            + "salient.cluster.roles = [" + roles + "]\n"
            + "salient.cluster.port = " + clusterPort + "\n"
            + "salient.cluster.load-report-interval = 100ms\n"
            + "salient.cluster.seed-nodes = [" + (seed.isEmpty() ? "" : "\"" + seed + "\"") + "]")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), ClusterSettings.SYSTEM_NAME,
        ClusterNode.config(config, ClusterSettings.from(config)));
    systems.add(system);
    SalientServer server = SalientServer.start(system, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    servers.add(server);
    return server;
  }

  private void connect(SalientServer gateway) {
    clientSystem = ActorSystem.create(Behaviors.empty(), "client");
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", gateway.address().getPort(), clientSystem)
        .withTls(false), clientSystem);
  }

  @AfterEach
  void stop() {
    if (client != null) {
      client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      clientSystem.terminate();
    }
    for (int i = servers.size() - 1; i >= 0; i--) {
      servers.get(i).close();
      systems.get(i).terminate();
      systems.get(i).getWhenTerminated().toCompletableFuture().orTimeout(20, TimeUnit.SECONDS)
          .join();
    }
  }

  private static ExplainRequest request(String method) {
    return ExplainRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod(method).build();
  }

  private StatsResponse stats() {
    return client.stats(StatsRequest.getDefaultInstance()).toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS).join();
  }

  private StatsResponse awaitWorkerNodes(int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      StatsResponse stats = stats();
      if (stats.getCluster().getWorkerNodesCount() == count && stats.getCluster()
          .getMembersList().stream().allMatch(m -> m.getStatus().equals("Up"))) {
        return stats;
      }
      assertTrue(System.nanoTime() < deadline, "no " + count + " worker nodes in 30 s: "
          + stats.getCluster());
      TimeUnit.MILLISECONDS.sleep(50); // a bounded poll: joining takes a few load reports
    }
  }

  @Test
  void aOneNodeClusterIsBothGatewayAndWorkerAndServesAsASingleServerDoes() throws Exception {
    connect(node("gateway, worker", "", 0));

    List<ExplainEvent> events = client.explain(request("nonlinear")).runWith(Sink.seq(),
        clientSystem).toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();

    assertTrue(events.get(0).hasStarted() && events.get(events.size() - 1).hasResult());
    StatsResponse stats = awaitWorkerNodes(1);
    ClusterMember self = stats.getCluster().getMembers(0);
    assertEquals(stats.getCluster().getSelf(), self.getAddress());
    assertEquals(List.of("gateway", "worker"),
        self.getRolesList().stream().filter(r -> !r.startsWith("dc-")).sorted().toList());
    assertTrue(stats.getAdmitted() >= 1, "the node's own supervisor ran the request");
  }

  @Test
  void aGatewayWithNoWorkerNodeRefusesWithUnavailableNamingTheModel() {
    connect(node("gateway", "", 0));

    CompletionException e = assertThrows(CompletionException.class,
        () -> client.explain(request("vanilla")).runWith(Sink.seq(), clientSystem)
            .toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join());

    Status status = Status.fromThrowable(e.getCause());
    assertEquals(Status.Code.UNAVAILABLE, status.getCode());
    assertTrue(status.getDescription().contains("no worker node that serves model fashion-mnist"),
        status.getDescription());
  }

  @Test
  void aVideoStreamsFramesStayOnOneWorkerNode() throws Exception {
    int seedPort = NodeProcess.freePort();
    SalientServer gateway = node("gateway", "", seedPort);
    node("worker", "127.0.0.1:" + seedPort, 0);
    node("worker", "127.0.0.1:" + seedPort, 0);
    connect(gateway);
    awaitWorkerNodes(2);

    List<VideoFrame> messages = new ArrayList<>();
    messages.add(VideoFrame.newBuilder().setSession(VideoSession.newBuilder()
        .setMethod("vanilla").setMaxInFlight(4)).build());
    LongStream.rangeClosed(1, 40).forEach(i -> messages.add(VideoFrame.newBuilder()
        .setSequence(i).setImage(Image.newBuilder().setEncoded(
            ByteString.copyFrom(TestImages.bytes((int) i)))).build()));
    List<FrameExplanation> answers = client.explainVideo(Source.from(messages))
        .runWith(Sink.seq(), clientSystem).toCompletableFuture()
        .orTimeout(60, TimeUnit.SECONDS).join();

    long explained = answers.stream().filter(FrameExplanation::hasExplained).count();
    assertTrue(explained >= 2, explained + " frames explained");
    // Both nodes' load reports (every 100 ms here) must include every engine call the frames
    // made before the images per node say anything.
    List<Long> images = imagesPerWorkerNode();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (images.stream().mapToLong(Long::longValue).sum() < explained
        && System.nanoTime() < deadline) {
      TimeUnit.MILLISECONDS.sleep(50); // a bounded poll of the reports
      images = imagesPerWorkerNode();
    }
    assertTrue(images.contains(0L) && images.stream().anyMatch(n -> n >= explained),
        "images per worker node " + images + " for " + explained + " explained frames");
  }

  private List<Long> imagesPerWorkerNode() {
    List<Long> images = new ArrayList<>();
    for (WorkerNodeStats n : stats().getCluster().getWorkerNodesList()) {
      images.add(n.getWorkersList().stream().mapToLong(WorkerStats::getImages).sum());
    }
    return images;
  }
}
