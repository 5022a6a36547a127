package dev.salient.client.cli;

import java.time.Duration;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The {@code --server} and {@code --deadline} options every subcommand shares. */
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
