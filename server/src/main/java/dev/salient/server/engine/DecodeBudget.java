package dev.salient.server.engine;

import dev.salient.server.util.SalientException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bytes of decoded pixel memory that all images being decoded at once may hold, so that no mix of
 * requests can take the heap, and the most pixels one image may have. A decode reserves its
 * image's bytes (read from the header) before any pixel is allocated and returns them when done.
 * A request that does not fit waits, in arrival order, up to the bounded wait and is then refused
 * with RESOURCE_EXHAUSTED; an image larger than the whole budget is refused at once.
 */
public final class DecodeBudget {
  /** The configuration key that sets the budget, named in every refusal. */
  public static final String KEY = "salient.limits.decode-budget";

  /** The configuration key that sets how long a decode waits for the budget. */
  public static final String WAIT_KEY = "salient.limits.decode-budget-wait";

  /** The configuration key that sets the most pixels (width times height) of one image. */
  public static final String MAX_PIXELS_KEY = "salient.limits.max-pixels";

  /** The default of {@link #MAX_PIXELS_KEY}: 40 megapixels. */
  public static final long DEFAULT_MAX_PIXELS = 40_000_000L;

  // Semaphore permits are ints: counting KiB keeps budgets up to 2 TiB representable.
  private static final long UNIT = 1024;

  private final long budgetBytes;
  private final Duration maxWait;
  private final long maxPixels;
  private final Semaphore permits;
  private final AtomicLong inUse;
  private final AtomicLong peak;

  /**
   * A budget of {@code budgetBytes}, for which a decode waits at most {@code maxWait}, for images
   * of at most {@link #DEFAULT_MAX_PIXELS}.
   */
  public DecodeBudget(long budgetBytes, Duration maxWait) {
    this(budgetBytes, maxWait, DEFAULT_MAX_PIXELS);
  }

  /**
   * A budget of {@code budgetBytes}, for which a decode waits at most {@code maxWait}, for images
   * of at most {@code maxPixels} pixels.
   */
  public DecodeBudget(long budgetBytes, Duration maxWait, long maxPixels) {
    if (budgetBytes < UNIT) {
      throw new IllegalArgumentException(KEY + " must be at least 1 KiB, got " + budgetBytes);
    }
    if (maxPixels < 1) {
      throw new IllegalArgumentException(MAX_PIXELS_KEY + " must be at least 1, got " + maxPixels);
    }
    this.budgetBytes = budgetBytes;
    this.maxWait = maxWait;
    this.maxPixels = maxPixels;
    // Fair, so a large image that waits is not overtaken for ever by a stream of small ones.
    this.permits = new Semaphore(units(budgetBytes), true);
    this.inUse = new AtomicLong();
    this.peak = new AtomicLong();
  }

  private DecodeBudget(DecodeBudget shared, Duration maxWait) {
    this.budgetBytes = shared.budgetBytes;
    this.maxWait = maxWait;
    this.maxPixels = shared.maxPixels;
    this.permits = shared.permits;
    this.inUse = shared.inUse;
    this.peak = shared.peak;
  }

  /**
   * The same budget for decodes that must not wait for it (a thread that serves others, such
   * as an engine's): one that does not fit at once is refused as after a wait.
   */
  public DecodeBudget withoutWaiting() {
    return new DecodeBudget(this, Duration.ZERO);
  }

  /**
   * A budget no image can exhaust, for callers that bound memory otherwise (tools, tests); images
   * are still held to {@link #DEFAULT_MAX_PIXELS}.
   */
  public static DecodeBudget unlimited() {
    return new DecodeBudget(Integer.MAX_VALUE * UNIT, Duration.ZERO);
  }

  /**
   * Reserves {@code bytes} for decoding {@code what}, waiting for them up to the bounded wait.
   *
   * @throws SalientException.CapacityExceeded when the image alone exceeds the budget, when the
   *     wait ends first, or when the thread is interrupted while waiting
   */
  public Reservation reserve(long bytes, String what) {
    if (bytes > budgetBytes) {
      throw new SalientException.CapacityExceeded(String.format(Locale.ROOT,
          "decoding %s needs %s of pixel memory, more than the server's whole decode budget of "
              + "%s (%s): downscale the image before sending, or raise %s",
          what, mib(bytes), mib(budgetBytes), KEY, KEY));
    }
    int units = Math.max(1, units(bytes));
    boolean acquired;
    try {
      acquired = permits.tryAcquire(units, maxWait.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SalientException.CapacityExceeded("the server stopped waiting for decode budget"
          + " for " + what + " (interrupted); retry");
    }
    if (!acquired) {
      throw new SalientException.CapacityExceeded(String.format(Locale.ROOT,
          "decode budget exhausted: decoding %s needs %s of pixel memory and other images held "
              + "the budget of %s (%s) for longer than %d ms (%s); retry later",
          what, mib(bytes), mib(budgetBytes), KEY, maxWait.toMillis(), WAIT_KEY));
    }
    long now = inUse.addAndGet(units * UNIT);
    peak.accumulateAndGet(now, Math::max);
    return new Reservation(units);
  }

  /** The most pixels (width times height) one image may have. */
  public long maxPixels() {
    return maxPixels;
  }

  /** The budget, in bytes. */
  public long budgetBytes() {
    return budgetBytes;
  }

  /** Bytes reserved now. */
  public long bytesInUse() {
    return inUse.get();
  }

  /** The most bytes ever reserved at once. */
  public long peakBytesInUse() {
    return peak.get();
  }

  private static int units(long bytes) {
    return (int) Math.min(Integer.MAX_VALUE, (bytes + UNIT - 1) / UNIT);
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }

  /** Bytes held for one decode; closing returns them, once. */
  public final class Reservation implements AutoCloseable {
    private final int units;
    private boolean closed;

    private Reservation(int units) {
      this.units = units;
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        // Accounted before the permits go back, so bytesInUse never exceeds the budget.
        inUse.addAndGet(-units * UNIT);
        permits.release(units);
      }
    }
  }
}
