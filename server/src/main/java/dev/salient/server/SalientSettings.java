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
    int cpuWorkers,
    int maxBatch,
    boolean measureBestBatch,
    Duration maxWait,
    double returnWaitFraction,
    Duration maxReturnWait,
    Duration restartMinBackoff,
    Duration restartMaxBackoff,
    int maxInFlight,
    int streamBuffer,
    Duration shutdownTimeout,
    int videoMaxInFlight,
    boolean compressResponses,
    int metricsPort,
    int serverCores,
    int engineCores,
    long maxMessageSize,
    long decodeBudget,
    Duration decodeBudgetWait,
    TlsSettings tls,
    int maxInFlightPerClient,
    AuthSettings auth,
    boolean allowPlaintextOnNetwork,
    boolean accessLog,
    long maxPixels,
    dev.salient.server.worker.SharingSettings sharing) {

  /** {@link #metricsPort()} when no metrics endpoint is served. */
  public static final int METRICS_OFF = -1;

  /** {@link #serverCores()} when threads are not pinned. */
  public static final int AFFINITY_OFF = 0;

  /** {@link #maxMessageSize()} when it follows the models served ({@link #messageSizeFor}). */
  public static final long MESSAGE_SIZE_AUTO = 0;

  /** gRPC's customary limit on an inbound message, the least the auto limit allows. */
  public static final long GRPC_DEFAULT_MESSAGE_SIZE = 4L * 1024 * 1024;

  /** Room in the auto message size for the request's other fields and the protobuf framing. */
  public static final long MESSAGE_MARGIN = 64L * 1024;

  /** The share of the JVM's maximum heap that the auto decode budget allows. */
  public static final double DECODE_BUDGET_HEAP_FRACTION = 0.25;

  /** Checks ranges so a bad configuration fails at start-up with the key to fix. */
  public SalientSettings {
    require(port >= 0 && port <= 65535, "salient.port must be in 0..65535");
    require(!devices.isEmpty(), "salient.devices needs at least one device, e.g. [\"cpu\"]");
    require(devices.stream().distinct().count() == devices.size(),
        "salient.devices names a device twice (" + devices + "); for several CPU workers set "
            + "salient.cpu-workers (--cpu-workers) instead");
    require(cpuWorkers >= 1, "salient.cpu-workers must be auto or at least 1");
    require(maxBatch >= 1, "salient.scheduler.max-batch must be at least 1");
    require(maxInFlight >= 1, "salient.scheduler.max-in-flight must be at least 1");
    require(maxInFlightPerClient >= 1,
        "salient.scheduler.max-in-flight-per-client must be at least 1");
    require(streamBuffer >= 1, "salient.scheduler.stream-buffer must be at least 1");
    require(videoMaxInFlight >= 1, "salient.video.max-in-flight must be at least 1");
    require(metricsPort == METRICS_OFF || metricsPort >= 0 && metricsPort <= 65535,
        "salient.metrics-port must be off or in 0..65535");
    require(serverCores >= 0, "salient.cpu-affinity.server-cores must be off or at least 1");
    require(engineCores >= 1, "the engines need at least one core");
    require(maxMessageSize == MESSAGE_SIZE_AUTO || maxMessageSize >= 1024,
        "salient.limits.max-message-size must be auto or at least 1KiB");
    require(decodeBudget >= 1024, "salient.limits.decode-budget must be auto or at least 1KiB");
    require(!decodeBudgetWait.isNegative(), "salient.limits.decode-budget-wait must not be negative");
    require(maxPixels >= 1, "salient.limits.max-pixels must be at least 1");
    devices = List.copyOf(devices);
  }

  /** Reads {@code config.getConfig("salient")}. */
  public static SalientSettings create(Config config) {
    Config c = config.getConfig("salient");
    int cores = Runtime.getRuntime().availableProcessors();
    int serverCores = serverCores(c.getString("cpu-affinity.server-cores"));
    int engineCores = engineCores(serverCores, cores);
    return new SalientSettings(
        c.getString("host"),
        c.getInt("port"),
        c.getString("models"),
        c.getStringList("devices"),
        cpuWorkers(c.getString("cpu-workers"), engineCores),
        c.getInt("scheduler.max-batch"),
        c.getBoolean("scheduler.measure-best-batch"),
        c.getDuration("scheduler.max-wait"),
        c.getDouble("scheduler.return-wait-fraction"),
        c.getDuration("scheduler.max-return-wait"),
        c.getDuration("scheduler.restart-min-backoff"),
        c.getDuration("scheduler.restart-max-backoff"),
        c.getInt("scheduler.max-in-flight"),
        c.getInt("scheduler.stream-buffer"),
        c.getDuration("shutdown-timeout"),
        c.getInt("video.max-in-flight"),
        c.getBoolean("compress-responses"),
        metricsPort(c.getString("metrics-port")),
        serverCores,
        engineCores,
        c.getString("limits.max-message-size").trim().equalsIgnoreCase("auto")
            ? MESSAGE_SIZE_AUTO : c.getBytes("limits.max-message-size"),
        c.getString("limits.decode-budget").trim().equalsIgnoreCase("auto")
            ? (long) (Runtime.getRuntime().maxMemory() * DECODE_BUDGET_HEAP_FRACTION)
            : c.getBytes("limits.decode-budget"),
        c.getDuration("limits.decode-budget-wait"),
        TlsSettings.create(c),
        c.getInt("scheduler.max-in-flight-per-client"),
        AuthSettings.create(c),
        c.getBoolean("allow-plaintext-on-network"),
        c.getBoolean("access-log"),
        c.getLong("limits.max-pixels"),
        dev.salient.server.worker.SharingSettings.create(c));
  }

  /**
   * The inbound message limit for models whose largest raw float32 input tensor is
   * {@code largestTensorBytes}: the configured size, or with auto gRPC's 4 MiB, raised to that
   * tensor plus {@link #MESSAGE_MARGIN} where it is larger, so every model can be sent a tensor.
   */
  public long messageSizeFor(long largestTensorBytes) {
    if (maxMessageSize != MESSAGE_SIZE_AUTO) {
      return maxMessageSize;
    }
    return Math.max(GRPC_DEFAULT_MESSAGE_SIZE, largestTensorBytes + MESSAGE_MARGIN);
  }

  /** The cores kept for all but the engines for {@code setting}: "off" or a number. */
  static int serverCores(String setting) {
    if (setting.trim().equalsIgnoreCase("off")) {
      return AFFINITY_OFF;
    }
    try {
      int n = Integer.parseInt(setting.trim());
      if (n >= 1) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("salient.cpu-affinity.server-cores must be off or a "
        + "number of cores (at least 1), got \"" + setting + "\"");
  }

  /**
   * The cores the engines share on a machine of {@code cores}: those left after
   * {@code serverCores} when that leaves any, else all of them (the server then pins nothing).
   */
  static int engineCores(int serverCores, int cores) {
    return serverCores != AFFINITY_OFF && cores > serverCores ? cores - serverCores : cores;
  }

  /** The metrics port for {@code setting}: "off" or a port number. */
  static int metricsPort(String setting) {
    if (setting.trim().equalsIgnoreCase("off")) {
      return METRICS_OFF;
    }
    try {
      return Integer.parseInt(setting.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "salient.metrics-port must be off or a port number, got \"" + setting + "\"");
    }
  }

  /**
   * The CPU workers for {@code setting} ("auto" or a number) on a machine of {@code cores}
   * cores. Auto gives two workers from two cores up, and up to four cores a worker beyond: an
   * engine's OpenMP threads wait for each other whenever anything else runs on one of their
   * cores, and one-thread engines do not; on two cores two workers served more requests than
   * one in every alternated run (docs/architecture.md, "Why more than one CPU worker"). Four cores a worker is
   * a choice, not a measurement: fewer workers keep more requests in each batch.
   */
  static int cpuWorkers(String setting, int cores) {
    if (setting.trim().equalsIgnoreCase("auto")) {
      return cores < 2 ? 1 : Math.max(2, cores / 4);
    }
    try {
      return Integer.parseInt(setting.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "salient.cpu-workers must be auto or a number of workers, got \"" + setting + "\"");
    }
  }

  /** The intra-op threads each CPU worker's engine may use: its share of the engines' cores. */
  public int cpuThreadsPerWorker() {
    return Math.max(1, engineCores / cpuWorkers);
  }

  /** The device workers' part of the settings. */
  public dev.salient.server.worker.WorkerSettings workerSettings() {
    return new dev.salient.server.worker.WorkerSettings(
        maxBatch, maxWait, returnWaitFraction, maxReturnWait, restartMinBackoff,
        restartMaxBackoff, sharing);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
