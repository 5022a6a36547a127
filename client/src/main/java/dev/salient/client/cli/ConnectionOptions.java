package dev.salient.client.cli;

import dev.salient.client.SalientClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The connection options every subcommand shares. */
final class ConnectionOptions {

  @Option(
      names = "--server",
      paramLabel = "HOST:PORT",
      defaultValue = "127.0.0.1:50051",
      converter = ServerAddress.Converter.class,
      description = "Salient server address (default: ${DEFAULT-VALUE}).")
  ServerAddress server;

  @Option(
      names = "--deadline",
      paramLabel = "SECONDS",
      description = "Give up (DEADLINE_EXCEEDED) after this many seconds; default: no deadline.")
  Double deadlineSeconds;

  @Option(
      names = "--max-message-mib",
      paramLabel = "MIB",
      description = "Refuse messages from the server larger than this (RESOURCE_EXHAUSTED); "
          + "default: no limit below gRPC's 2 GiB.")
  Integer maxMessageMib;

  @Option(
      names = "--tls",
      description = "Connect with TLS, trusting the JVM's trust store (a server with salient.tls).")
  boolean tls;

  @Option(
      names = "--ca",
      paramLabel = "FILE",
      description = "Trust this PEM CA (or self-signed) certificate for the server's; implies --tls.")
  Path ca;

  @Option(
      names = "--cert",
      paramLabel = "FILE",
      description = "Present this PEM client certificate (mutual TLS, salient.tls.client-ca); "
          + "needs --key, implies --tls.")
  Path certificate;

  @Option(
      names = "--key",
      paramLabel = "FILE",
      description = "The PEM (PKCS#8) private key of --cert.")
  Path key;

  @Option(
      names = "--token",
      paramLabel = "TOKEN",
      description = "Bearer token for a server with salient.auth.tokens-file (./salient token "
          + "NAME mints one); default: the environment variable " + TOKEN_VARIABLE + ", which "
          + "keeps it out of the process list.")
  String token;

  /** The environment variable the token is read from without --token. */
  static final String TOKEN_VARIABLE = "SALIENT_TOKEN";

  /** The token to send: --token, else {@link #TOKEN_VARIABLE} of {@code env}, else none. */
  Optional<String> token(Map<String, String> env) {
    String value = token != null ? token : env.get(TOKEN_VARIABLE);
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    if (value.trim().chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
      throw new IllegalArgumentException((token != null ? "--token" : TOKEN_VARIABLE)
          + " must be printable ASCII without spaces (as ./salient token prints it)");
    }
    return Optional.of(value.trim());
  }

  /** The connection's TLS from --tls, --ca, --cert and --key. */
  ClientTls clientTls() {
    return ClientTls.of(tls, ca, certificate, key);
  }

  /** The largest message to take from the server, in bytes. */
  int maxMessageBytes() {
    if (maxMessageMib == null) {
      return SalientClient.MAX_INBOUND_MESSAGE_BYTES;
    }
    if (maxMessageMib < 1 || maxMessageMib > 2047) {
      throw new IllegalArgumentException(
          "--max-message-mib must be in [1, 2047], got " + maxMessageMib);
    }
    return maxMessageMib << 20;
  }

  /** The per-call deadline, if one was given; must be positive. */
  Optional<Duration> deadline() {
    if (deadlineSeconds == null) {
      return Optional.empty();
    }
    if (!(deadlineSeconds > 0) || deadlineSeconds.isInfinite()) {
      throw new IllegalArgumentException(
          "--deadline must be a positive number of seconds, got " + deadlineSeconds);
    }
    return Optional.of(Duration.ofNanos(Math.round(deadlineSeconds * 1e9)));
  }
}
