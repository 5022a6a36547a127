package dev.salient.server.grpc;

import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.grpc.javadsl.Metadata;

/** Reads the client's deadline from the {@code grpc-timeout} request header. */
final class GrpcTimeout {
  private GrpcTimeout() {}

  /**
   * The deadline as a {@link System#nanoTime()} value, or {@link Long#MAX_VALUE} when the client
   * set none. The header is "digits + unit" with unit H, M, S, m (ms), u (µs) or n (ns).
   */
  static long deadlineNanos(Metadata metadata) {
    Optional<String> header = metadata.getText("grpc-timeout");
    if (header.isEmpty()) {
      return Long.MAX_VALUE;
    }
    return System.nanoTime() + parseNanos(header.get());
  }

  /** The timeout in nanoseconds; a malformed header counts as no deadline. */
  static long parseNanos(String value) {
    if (value.length() < 2 || value.length() > 9) {
      return Long.MAX_VALUE / 2;
    }
    long amount;
    try {
      amount = Long.parseLong(value.substring(0, value.length() - 1));
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE / 2;
    }
    TimeUnit unit = switch (value.charAt(value.length() - 1)) {
      case 'H' -> TimeUnit.HOURS;
      case 'M' -> TimeUnit.MINUTES;
      case 'S' -> TimeUnit.SECONDS;
      case 'm' -> TimeUnit.MILLISECONDS;
      case 'u' -> TimeUnit.MICROSECONDS;
      case 'n' -> TimeUnit.NANOSECONDS;
      default -> null;
    };
    return unit == null ? Long.MAX_VALUE / 2 : unit.toNanos(amount);
  }
}
