package dev.salient.client.cli;

import dev.salient.client.SalientClient;
import java.time.Duration;
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
