package dev.salient.server.worker;

import java.time.Duration;

/**
 * How a device worker schedules.
 *
 * @param maxBatch most images in one engine call
 * @param maxWait how long a round may wait for jobs whose response streams are full, when the
 *     batch is not full (zero: never wait)
 * @param returnWaitFraction when fewer jobs are ready than the last engine call carried, how
 *     long a round may wait for the rest, as a fraction of the recent time of an engine call of
 *     the last call's size (zero: never wait)
 * @param maxReturnWait the longest such wait
 * @param restartMinBackoff first delay before reloading a failed engine; doubles per failure
 * @param restartMaxBackoff longest delay between reload attempts
 * @param sharing how the engine's time is shared between models, clients and priorities
 */
public record WorkerSettings(
    int maxBatch, Duration maxWait, double returnWaitFraction, Duration maxReturnWait,
    Duration restartMinBackoff, Duration restartMaxBackoff, SharingSettings sharing) {

  /** Settings with {@link SharingSettings#DEFAULT} sharing. */
  public WorkerSettings(int maxBatch, Duration maxWait, double returnWaitFraction,
      Duration maxReturnWait, Duration restartMinBackoff, Duration restartMaxBackoff) {
    this(maxBatch, maxWait, returnWaitFraction, maxReturnWait, restartMinBackoff,
        restartMaxBackoff, SharingSettings.DEFAULT);
  }

  /** Checks the ranges. */
  public WorkerSettings {
    if (maxBatch < 1) {
      throw new IllegalArgumentException("max-batch must be at least 1");
    }
    if (!(returnWaitFraction >= 0 && returnWaitFraction <= 1)) {
      throw new IllegalArgumentException("return-wait-fraction must be in 0..1");
    }
    if (maxWait.isNegative() || maxReturnWait.isNegative() || restartMinBackoff.isNegative()
        || restartMaxBackoff.compareTo(restartMinBackoff) < 0) {
      throw new IllegalArgumentException("max-wait, max-return-wait and restart backoffs must be "
          + "non-negative, min <= max");
    }
    java.util.Objects.requireNonNull(sharing, "sharing");
  }
}
