package dev.salient.client.cli;

import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLException;

/**
 * How the CLI secures its connection: plaintext, TLS trusting the JVM's trust store, or TLS
 * trusting {@code ca}; with {@code certificate} and {@code key} it presents a client certificate
 * (mutual TLS). Paths are null when not given.
 */
record ClientTls(boolean enabled, Path ca, Path certificate, Path key) {

  /** Plaintext HTTP/2, as a server without salient.tls speaks. */
  static final ClientTls PLAINTEXT = new ClientTls(false, null, null, null);

  /**
   * The TLS of the options {@code --tls}, {@code --ca}, {@code --cert} and {@code --key}; any of
   * the files turns TLS on. Fails (usage) when only one of cert and key is given or a file is
   * missing.
   */
  static ClientTls of(boolean tls, Path ca, Path certificate, Path key) {
    if ((certificate == null) != (key == null)) {
      throw new IllegalArgumentException("--cert and --key go together (a client certificate "
          + "and its private key, both PEM)");
    }
    requireReadable(ca, "--ca");
    requireReadable(certificate, "--cert");
    requireReadable(key, "--key");
    return new ClientTls(tls || ca != null || certificate != null, ca, certificate, key);
  }

  private static void requireReadable(Path file, String option) {
    if (file != null && !Files.isReadable(file)) {
      throw new IllegalArgumentException(option + ": cannot read " + file);
    }
  }

  /**
   * The Netty context for the channel, or null when the JVM's defaults do (plaintext, or TLS
   * without --ca and --cert). Gives ALPN's h2 as gRPC needs.
   */
  SslContext nettyContext() {
    if (ca == null && certificate == null) {
      return null;
    }
    SslContextBuilder builder = GrpcSslContexts.forClient();
    try {
      if (ca != null) {
        builder.trustManager(ca.toFile());
      }
    } catch (IllegalArgumentException e) {
      throw new CliFailure("--ca " + ca + " is not a PEM certificate (" + e.getMessage() + ")", e);
    }
    try {
      if (certificate != null) {
        builder.keyManager(certificate.toFile(), key.toFile());
      }
    } catch (IllegalArgumentException e) {
      throw new CliFailure("--cert " + certificate + " and --key " + key + " are not a PEM "
          + "certificate and its PKCS#8 private key (" + e.getMessage() + ")", e);
    }
    try {
      return builder.build();
    } catch (SSLException e) {
      throw new CliFailure("cannot use the TLS files (" + e.getMessage() + ")", e);
    }
  }
}
