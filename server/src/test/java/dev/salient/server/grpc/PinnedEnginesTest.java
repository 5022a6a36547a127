package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.server.CoreSplit;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CpuAffinity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;

/**
 * With salient.cpu-affinity.server-cores the engines run on cores of their own and everything
 * else on the server's; closing the server gives every thread every core back.
 */
class PinnedEnginesTest {

  /** Every thread of this process by Linux thread id: its name and the cores it may use. */
  private static Map<Integer, Map.Entry<String, List<Integer>>> threads() throws IOException {
    Map<Integer, Map.Entry<String, List<Integer>>> threads = new TreeMap<>();
    try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
      for (Path task : tasks.toList()) {
        int tid = Integer.parseInt(task.getFileName().toString());
        try {
          String name = Files.readString(task.resolve("comm")).strip();
          threads.put(tid, Map.entry(name, CpuAffinity.of(tid)));
        } catch (IOException | RuntimeException e) {
          // the thread ended meanwhile
        }
      }
    }
    return threads;
  }

  @Test
  void enginesRunOnTheirOwnCoresAndTheRestOnTheServersUntilItCloses() throws Exception {
    assumeTrue(CpuAffinity.supported(), "CPU affinity is Linux only");
    List<Integer> allowed = CpuAffinity.ofCurrentThread();
    assumeTrue(allowed.size() >= 2, "needs two cores, this process may use " + allowed);
    Config config = ConfigFactory.parseString(
            "salient.port = 0\nsalient.cpu-affinity.server-cores = 1")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "pinned-engines", config);
    SalientServer server = null;
    try {
      server = SalientServer.start(system, SalientSettings.create(config),
          ModelCatalog.embeddedDefault(), MethodRegistry.standard());
      CoreSplit split = server.coreSplit().orElseThrow();
      assertEquals(allowed.subList(0, 1), split.server());
      assertEquals(allowed.subList(1, allowed.size()), split.engines());

      ExplainerClient client = ExplainerClient.create(GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), system)
          .withTls(false), system);
      List<ExplainEvent> events = client.explain(ExplainRequest.newBuilder()
              .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
              .setMethod("vanilla").build())
          .runWith(Sink.seq(), system).toCompletableFuture().get(60, TimeUnit.SECONDS);
      assertTrue(events.get(events.size() - 1).hasResult(), "the pinned engine answers");
      client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);

      // Linux names a thread after the thread that starts it: libtorch's OpenMP threads carry
      // their engine thread's name.
      int engines = 0;
      for (var thread : threads().values()) {
        if (thread.getKey().startsWith("salient-engine")) {
          engines++;
          assertEquals(split.engines(), thread.getValue(), thread.getKey());
        } else {
          assertEquals(split.server(), thread.getValue(), thread.getKey());
        }
      }
      assertTrue(engines >= 1, "no engine thread found: " + threads());
    } finally {
      if (server != null) {
        server.close();
      }
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
    }
    for (var thread : threads().values()) {
      assertEquals(allowed, thread.getValue(), thread.getKey() + " after close");
    }
  }
}
