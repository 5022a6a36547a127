package dev.salient.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/** salient.http.port: auto, off or a number, and what each means. */
class HttpSettingsTest {
  private static HttpSettings settings(String lines) {
    Config config = ConfigFactory.parseString(lines).withFallback(ConfigFactory.load());
    return HttpSettings.create(config);
  }

  @Test
  void autoIs8080BesideAFixedGrpcPortAndMayBeSkippedIfTaken() {
    HttpSettings http = settings("salient.port = 50051");

    assertTrue(http.enabled());
    assertEquals(HttpSettings.DEFAULT_PORT, http.port());
    assertFalse(http.required());
    assertEquals("127.0.0.1", http.host());
  }

  @Test
  void autoIsAFreePortWhenTheGrpcPortIsAFreeOne() {
    assertEquals(0, settings("salient.port = 0").port());
  }

  @Test
  void offServesNothing() {
    assertFalse(settings("salient.http.port = off").enabled());
  }

  @Test
  void aNumberIsThatPortAndRequired() {
    HttpSettings http = settings("salient.http.port = 9000");

    assertEquals(9000, http.port());
    assertTrue(http.required());
  }

  @Test
  void anythingElseIsRefusedNamingTheSetting() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> settings("salient.http.port = sometimes"));

    assertTrue(e.getMessage().contains("salient.http.port"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> settings("salient.http.port = 70000"));
  }
}
