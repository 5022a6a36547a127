package dev.salient.server.worker;

import java.time.Duration;

/**
 * How a device worker schedules.
 *
 * @param maxBatch most images in one engine call
 * @param maxWait how long a round may wait for jobs still handing events to their clients, when
 *     the batch is not full (zero: never wait)
 * @param restartMinBackoff first delay before reloading a failed engine; doubles per failure
 * @param restartMaxBackoff longest delay between reload attempts
 */
public record WorkerSettings(
    int maxBatch, Duration maxWait, Duration restartMinBackoff, Duration restartMaxBackoff) {

  /** Checks the ranges. */
  public WorkerSettings {
    if (maxBatch < 1) {
      throw new IllegalArgumentException("max-batch must be at least 1");
    }
    if (maxWait.isNegative() || restartMinBackoff.isNegative()
        || restartMaxBackoff.compareTo(restartMinBackoff) < 0) {
      throw new IllegalArgumentException(
          "max-wait and restart backoffs must be non-negative, min <= max");
    }
  }
}
