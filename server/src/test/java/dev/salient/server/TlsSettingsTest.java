package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URISyntaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** salient.tls: which keys go together, and start-up errors that name the key of a bad file. */
class TlsSettingsTest {

  static String fixture(String name) {
    try {
      return Path.of(TlsSettingsTest.class.getResource("/tls/" + name).toURI()).toString();
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String startUpError(TlsSettings tls) {
    return assertThrows(IllegalArgumentException.class, tls::sslContext).getMessage();
  }

  @Test
  void emptyKeysMeanPlaintext() {
    assertTrue(TlsSettings.OFF.sslContext().isEmpty());
  }

  @Test
  void theFixturesMakeAContext() {
    TlsSettings tls = new TlsSettings(fixture("server.pem"), fixture("server.key"),
        fixture("ca.pem"));

    assertTrue(tls.sslContext().isPresent());
    assertTrue(tls.mutual());
  }

  @Test
  void aCertificateWithoutAPrivateKeyIsRefused() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> new TlsSettings(fixture("server.pem"), "", "")).getMessage();

    assertTrue(message.contains("salient.tls.private-key"), message);
  }

  @Test
  void aClientCaWithoutACertificateIsRefused() {
    String message = assertThrows(IllegalArgumentException.class,
        () -> new TlsSettings("", "", fixture("ca.pem"))).getMessage();

    assertTrue(message.contains("salient.tls.client-ca needs TLS"), message);
  }

  @Test
  void aMissingPrivateKeyFileNamesItsKeyAndPath() {
    String message = startUpError(
        new TlsSettings(fixture("server.pem"), "/nonexistent/server.key", ""));

    assertTrue(message.startsWith("salient.tls.private-key: cannot read /nonexistent/server.key"),
        message);
  }

  @Test
  void aCertificateGivenAsThePrivateKeyIsNotPkcs8() {
    String message = startUpError(
        new TlsSettings(fixture("server.pem"), fixture("client.pem"), ""));

    assertTrue(message.startsWith("salient.tls.private-key: "), message);
    assertTrue(message.contains("PKCS#8"), message);
  }

  @Test
  void aKeyGivenAsTheCertificateIsNotACertificate() {
    String message = startUpError(
        new TlsSettings(fixture("server.key"), fixture("server.key"), ""));

    assertTrue(message.startsWith("salient.tls.certificate: "), message);
  }

  @Test
  void aPrivateKeyOfAnotherCertificateIsRefusedNamingBothKeys() {
    String message = startUpError(
        new TlsSettings(fixture("server.pem"), fixture("client.key"), ""));

    assertTrue(message.contains("salient.tls.certificate"), message);
    assertTrue(message.contains("salient.tls.private-key"), message);
  }

  @Test
  void aClientCaThatIsNotACertificateNamesItsKey() {
    String message = startUpError(
        new TlsSettings(fixture("server.pem"), fixture("server.key"), fixture("server.key")));

    assertTrue(message.startsWith("salient.tls.client-ca: "), message);
    assertFalse(message.contains("salient.tls.private-key"), message);
  }
}
