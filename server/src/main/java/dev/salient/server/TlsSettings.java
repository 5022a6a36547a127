package dev.salient.server;

import com.typesafe.config.Config;
import dev.salient.server.util.TlsContext;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLContext;

/**
 * The {@code salient.tls} section: PEM paths, each empty when unset. Without a certificate the
 * server speaks plaintext HTTP/2; with a client CA it requires client certificates (mutual TLS).
 */
public record TlsSettings(String certificate, String privateKey, String clientCa) {

  /** Plaintext. */
  public static final TlsSettings OFF = new TlsSettings("", "", "");

  /** Checks that the keys make sense together. */
  public TlsSettings {
    if (certificate.isBlank() != privateKey.isBlank()) {
      throw new IllegalArgumentException(TlsContext.CERTIFICATE_KEY + " and "
          + TlsContext.PRIVATE_KEY_KEY + " must be set together (or both left empty for "
          + "plaintext)");
    }
    if (certificate.isBlank() && !clientCa.isBlank()) {
      throw new IllegalArgumentException(TlsContext.CLIENT_CA_KEY + " needs TLS: set "
          + TlsContext.CERTIFICATE_KEY + " and " + TlsContext.PRIVATE_KEY_KEY + " too");
    }
  }

  /** Reads {@code salient.tls} from the {@code salient} section. */
  static TlsSettings create(Config salient) {
    return new TlsSettings(salient.getString("tls.certificate").trim(),
        salient.getString("tls.private-key").trim(), salient.getString("tls.client-ca").trim());
  }

  /** Whether the server speaks TLS. */
  public boolean enabled() {
    return !certificate.isBlank();
  }

  /** Whether clients must present a certificate signed by {@link #clientCa()}. */
  public boolean mutual() {
    return !clientCa.isBlank();
  }

  /** The SSLContext for these files, empty for plaintext; fails naming the key of a bad file. */
  public Optional<SSLContext> sslContext() {
    if (!enabled()) {
      return Optional.empty();
    }
    return Optional.of(TlsContext.create(Path.of(certificate), Path.of(privateKey),
        mutual() ? Path.of(clientCa) : null));
  }
}
