package dev.salient.server;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;

/** The server's settings, read from the {@code salient} section of the configuration. */
public record SalientSettings(
    String host,
    int port,
    String models,
    List<String> devices,
    int maxBatch,
    Duration maxWait,
    double returnWaitFraction,
    Duration maxReturnWait,
    Duration restartMinBackoff,
    Duration restartMaxBackoff,
    int maxInFlight,
    int streamBuffer,
    Duration shutdownTimeout,
    int videoMaxInFlight,
    boolean compressResponses) {

  /** Checks ranges so a bad configuration fails at start-up with the key to fix. */
  public SalientSettings {
    require(port >= 0 && port <= 65535, "salient.port must be in 0..65535");
    require(!devices.isEmpty(), "salient.devices needs at least one device, e.g. [\"cpu\"]");
    require(maxBatch >= 1, "salient.scheduler.max-batch must be at least 1");
    require(maxInFlight >= 1, "salient.scheduler.max-in-flight must be at least 1");
    require(streamBuffer >= 1, "salient.scheduler.stream-buffer must be at least 1");
    require(videoMaxInFlight >= 1, "salient.video.max-in-flight must be at least 1");
    devices = List.copyOf(devices);
  }

  /** Reads {@code config.getConfig("salient")}. */
  public static SalientSettings create(Config config) {
    Config c = config.getConfig("salient");
    return new SalientSettings(
        c.getString("host"),
        c.getInt("port"),
        c.getString("models"),
        c.getStringList("devices"),
        c.getInt("scheduler.max-batch"),
        c.getDuration("scheduler.max-wait"),
        c.getDouble("scheduler.return-wait-fraction"),
        c.getDuration("scheduler.max-return-wait"),
        c.getDuration("scheduler.restart-min-backoff"),
        c.getDuration("scheduler.restart-max-backoff"),
        c.getInt("scheduler.max-in-flight"),
        c.getInt("scheduler.stream-buffer"),
        c.getDuration("shutdown-timeout"),
        c.getInt("video.max-in-flight"),
        c.getBoolean("compress-responses"));
  }

  /** The device workers' part of the settings. */
  public dev.salient.server.worker.WorkerSettings workerSettings() {
    return new dev.salient.server.worker.WorkerSettings(
        maxBatch, maxWait, returnWaitFraction, maxReturnWait, restartMinBackoff,
        restartMaxBackoff);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
