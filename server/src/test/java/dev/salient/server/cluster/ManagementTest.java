package dev.salient.server.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pekko Management on one node of this JVM: {@code /alive} answers from the start, and
 * {@code /ready} only once the node is both an Up member and serving (its engines loaded).
 */
class ManagementTest {
  private ActorSystem<Void> system;

  @AfterEach
  void stop() {
    if (system != null) {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
    }
  }

  @Test
  void readyOnlyOnceTheNodeIsAnUpMemberAndServing() throws Exception {
    int port = NodeProcess.freePort();
    Config base = ConfigFactory.parseString("salient.host = 127.0.0.1\n"
        + "pekko.management.http.port = " + port).withFallback(ConfigFactory.load());
    ClusterSettings settings = ClusterSettings.from(base);
    system = ActorSystem.create(Behaviors.empty(), ClusterSettings.SYSTEM_NAME,
        Management.config(ClusterNode.config(base, settings), settings));
    Management.start(system, settings);

    assertEquals("200 OK", answer(port, "/alive"));
    // Pekko Management answers a failed check with 500 and the checks that failed.
    assertTrue(answer(port, "/ready").startsWith("500 Not Healthy"), answer(port, "/ready"));

    Cluster cluster = Cluster.get(system);
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (cluster.selfMember().status() != MemberStatus.up()) {
      assertTrue(System.nanoTime() < deadline, "the node did not come Up");
      // Membership has no future to wait on from outside an actor.
      TimeUnit.MILLISECONDS.sleep(50);
    }
    String upNotServing = answer(port, "/ready");
    assertTrue(upNotServing.startsWith("500 Not Healthy"), "Up, but not serving: " + upNotServing);

    Management.serving(system);
    assertEquals("200 OK", answer(port, "/ready"));
  }

  @Test
  void theManagementHostIsTheClusterHostUnlessSet() {
    Config base = ConfigFactory.parseString("salient.host = 10.1.2.3")
        .withFallback(ConfigFactory.load());
    ClusterSettings settings = ClusterSettings.from(base);
    assertEquals("10.1.2.3", Management.config(base, settings)
        .getString("pekko.management.http.hostname"));
    Config set = ConfigFactory.parseString("pekko.management.http.hostname = 10.9.9.9")
        .withFallback(base);
    assertEquals("10.9.9.9", Management.config(set, settings)
        .getString("pekko.management.http.hostname"));
  }

  /** The status code and body of GET {@code path}. */
  private static String answer(int port, String path) throws IOException, InterruptedException {
    HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    return response.statusCode() + " " + response.body();
  }
}
