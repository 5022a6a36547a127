package dev.salient.client.video;

import java.util.Arrays;

/** Latencies of a run, with nearest-rank percentiles. */
public final class LatencyStats {

  private double[] values = new double[64];
  private int count;
  private boolean sorted = true;

  /** Records one latency, in milliseconds. */
  public void add(double millis) {
    if (count == values.length) {
      values = Arrays.copyOf(values, count * 2);
    }
    values[count++] = millis;
    sorted = false;
  }

  /** How many latencies were recorded. */
  public int count() {
    return count;
  }

  /** The nearest-rank percentile {@code p} (in (0, 100]), or NaN when nothing was recorded. */
  public double percentile(double p) {
    if (!(p > 0) || p > 100) {
      throw new IllegalArgumentException("percentile must be in (0, 100], got " + p);
    }
    if (count == 0) {
      return Double.NaN;
    }
    if (!sorted) {
      Arrays.sort(values, 0, count);
      sorted = true;
    }
    int rank = (int) Math.ceil(p / 100 * count);
    return values[Math.max(0, rank - 1)];
  }
}
