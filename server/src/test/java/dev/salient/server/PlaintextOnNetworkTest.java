package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/** The server speaks plaintext on loopback only, unless told the network is trusted. */
class PlaintextOnNetworkTest {

  private static SalientSettings settings(String more) {
    return SalientSettings.create(ConfigFactory.parseString("salient.port = 0\n" + more)
        .withFallback(ConfigFactory.load()));
  }

  @Test
  void aServerOnAllAddressesWithoutTlsRefusesToStartAndNamesTheFix() {
    Config config = ConfigFactory.parseString("salient.host = \"0.0.0.0\"\nsalient.port = 0\n")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "plaintext", config);
    try {
      String message = assertThrows(IllegalArgumentException.class,
          () -> SalientServer.start(system, SalientSettings.create(config),
              ModelCatalog.embeddedDefault(), MethodRegistry.standard())).getMessage();

      assertTrue(message.startsWith("refusing to serve plaintext on 0.0.0.0, which is not a "
          + "loopback address"), message);
      assertTrue(message.contains("salient.tls.certificate"), message);
      assertTrue(message.contains("salient.allow-plaintext-on-network = true"), message);
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
    }
  }

  @Test
  void loopbackPlaintextNeedsNoConfiguration() {
    assertDoesNotThrow(() -> SalientServer.requireTlsOffLoopback(settings("")));
    assertDoesNotThrow(() -> SalientServer.requireTlsOffLoopback(
        settings("salient.host = localhost\n")));
  }

  @Test
  void theOptOutAllowsPlaintextOnTheNetwork() {
    assertDoesNotThrow(() -> SalientServer.requireTlsOffLoopback(settings(
        "salient.host = \"0.0.0.0\"\nsalient.allow-plaintext-on-network = true\n")));
  }

  @Test
  void tlsAllowsTheNetwork() {
    assertDoesNotThrow(() -> SalientServer.requireTlsOffLoopback(settings(
        "salient.host = \"0.0.0.0\"\n"
            + "salient.tls.certificate = \"" + TlsSettingsTest.fixture("server.pem") + "\"\n"
            + "salient.tls.private-key = \"" + TlsSettingsTest.fixture("server.key") + "\"\n")));
  }
}
