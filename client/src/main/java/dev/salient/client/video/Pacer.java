package dev.salient.client.video;

import java.util.concurrent.TimeUnit;

/**
 * Paces frames at a fixed rate: frame i is due at start + i / fps. A frame that is late goes at
 * once and shifts the schedule of the frames after it, so the pacer never bursts to catch up.
 */
public final class Pacer {

  private final double intervalNanos;
  private long origin;
  private long index;

  private Pacer(double intervalNanos) {
    this.intervalNanos = intervalNanos;
  }

  /** A pacer at {@code fps} frames per second. */
  public static Pacer atRate(double fps) {
    if (!(fps > 0) || Double.isInfinite(fps)) {
      throw new IllegalArgumentException("frame rate must be positive, got " + fps);
    }
    return new Pacer(1e9 / fps);
  }

  /** A pacer that never waits. */
  public static Pacer unpaced() {
    return new Pacer(0);
  }

  /**
   * How long to wait before sending the next frame when the clock reads {@code nowNanos}; the
   * first frame sets the start and goes at once.
   */
  public long delayBeforeNext(long nowNanos) {
    if (index == 0) {
      origin = nowNanos;
    }
    long due = origin + Math.round(index * intervalNanos);
    index++;
    if (nowNanos >= due) {
      origin += nowNanos - due;
      return 0;
    }
    return due - nowNanos;
  }

  /** Sleeps until the next frame is due on {@link System#nanoTime()}. */
  public void awaitNext() throws InterruptedException {
    long delay = delayBeforeNext(System.nanoTime());
    if (delay > 0) {
      TimeUnit.NANOSECONDS.sleep(delay);
    }
  }
}
