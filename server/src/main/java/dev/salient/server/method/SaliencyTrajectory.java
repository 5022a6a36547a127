package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Softmax;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;

/**
 * One trajectory of the nonlinear saliency procedure (seed 000, Methods): at every step the
 * pixels whose sensitivity norm is below the level are low-pass filtered, the others are moved
 * along the gradient, and the image is clipped to the pixel range. A linear trajectory uses the
 * gradient of the original image at every step; a nonlinear one the gradient of the current
 * image. The caller runs the model on {@link #image()} and hands the outputs to {@link #advance}.
 *
 * <p>The level of each step is the sensitivity norm that leaves the schedule's fraction of pixels
 * below it, so each level blurs exactly that share of the image (ties broken by pixel index).
 *
 * <p>The best point is the earliest whose target probability is within {@link #BEST_TOLERANCE}
 * of the highest: probabilities that tie within float rounding (about 1e-7, which is what a
 * batched pass and a pass of one image differ by) pick the same step.
 */
final class SaliencyTrajectory {

  /**
   * Target probabilities this close to the trajectory's highest count as equal to it when the
   * best point is chosen: a thousand times the float rounding of a probability near 1, far below
   * what a model's probability means.
   */
  static final double BEST_TOLERANCE = 1e-4;

  /**
   * One image of the trajectory.
   *
   * @param step updates applied to the input image to reach this one (0: the input)
   * @param levelIndex the schedule entry of the update that produced it (0 for the input)
   * @param blurredFraction share of pixels that update blurred (0 for the input)
   * @param level the sensitivity norm below which that update blurred (0 for the input)
   * @param image the image, [C, H, W]
   * @param blurred which pixels ([H, W]) that update blurred; all false for the input
   * @param logits the model's scores of the image
   * @param targetProbability the target class's probability
   */
  record Point(
      int step,
      int levelIndex,
      double blurredFraction,
      double level,
      float[] image,
      boolean[] blurred,
      float[] logits,
      float targetProbability) {}

  private final InputSpec spec;
  private final int target;
  private final boolean frozenGradient;
  private final double littleH;
  private final int stepsPerLevel;
  private final List<Double> schedule;
  private final List<Point> snapshots = new ArrayList<>();
  private final List<Double> curveFractions = new ArrayList<>();
  private final List<Double> curveProbabilities = new ArrayList<>();
  private float[] image;
  private float[] gradientAtStart;
  private float[] blurredStart;
  private int step;
  private int levelIndex;
  private double blurredFraction;
  private double level;
  private boolean[] blurred;
  /** Points that were the highest so far when evaluated, within tolerance of the highest. */
  private final java.util.ArrayDeque<Point> records = new java.util.ArrayDeque<>();
  private Point last;

  /**
   * A trajectory from {@code start} for class {@code target}.
   *
   * @param frozenGradient use the gradient of {@code start} at every step (the linear map)
   * @param littleH the largest change of one pixel in one enhancement step, in pixel-range units
   * @param stepsPerLevel updates at each level of {@code schedule}
   * @param schedule blurred fractions in [0, 1), one level each, in order
   */
  SaliencyTrajectory(InputSpec spec, float[] start, int target, boolean frozenGradient,
      double littleH, int stepsPerLevel, List<Double> schedule) {
    this.spec = spec;
    this.image = start.clone();
    this.target = target;
    this.frozenGradient = frozenGradient;
    this.littleH = littleH;
    this.stepsPerLevel = stepsPerLevel;
    this.schedule = List.copyOf(schedule);
    this.blurred = new boolean[spec.height() * spec.width()];
  }

  /** The image the next pass must run on: the current point of the trajectory. */
  float[] image() {
    return image;
  }

  /** Whether the next pass must return the input gradient (a linear trajectory needs one). */
  boolean needsGradient() {
    return !frozenGradient || gradientAtStart == null;
  }

  /** Updates in all: levels times steps per level; the trajectory has one more point. */
  int totalSteps() {
    return schedule.size() * stepsPerLevel;
  }

  /** Whether the last point has been evaluated. */
  boolean finished() {
    return last != null && last.step() == totalSteps();
  }

  /**
   * Records the model's outputs on {@link #image()} as the next point and, unless it was the
   * last, moves the image one step on.
   *
   * @param logits the model's scores of the image
   * @param gradient the input gradient of the target at the image (may be null when
   *     {@link #needsGradient()} was false)
   * @param blurredImage the image low-pass filtered
   * @return the point just evaluated
   */
  Point advance(float[] logits, float[] gradient, float[] blurredImage) {
    if (finished()) {
      throw new IllegalStateException("the trajectory has ended");
    }
    if (step == 0) {
      gradientAtStart = gradient.clone();
      blurredStart = blurredImage.clone();
    }
    Point point = new Point(step, levelIndex, blurredFraction, level, image, blurred, logits,
        Softmax.of(logits)[target]);
    last = point;
    curveFractions.add(blurredFraction);
    curveProbabilities.add((double) point.targetProbability());
    // Only a point above every earlier one can become the best: an earlier point at least as
    // high would be chosen first. Records below the highest by more than the tolerance are out.
    if (records.isEmpty() || point.targetProbability() > records.peekLast().targetProbability()) {
      records.addLast(point);
      double floor = point.targetProbability() - BEST_TOLERANCE;
      while (records.peekFirst().targetProbability() < floor) {
        records.removeFirst();
      }
    }
    if (step > 0 && step % stepsPerLevel == 0) {
      snapshots.add(point);
    }
    if (step < totalSteps()) {
      levelIndex = step / stepsPerLevel;
      blurredFraction = schedule.get(levelIndex);
      float[] g = frozenGradient ? gradientAtStart : gradient;
      float[] norm = sensitivityNorm(g, spec.channels());
      blurred = belowLevel(norm, blurredFraction);
      level = levelOf(norm, blurred);
      image = update(image, blurredImage, g, blurred, littleH, spec);
      step++;
    }
    return point;
  }

  /**
   * The earliest point so far whose target probability is within {@link #BEST_TOLERANCE} of the
   * highest.
   */
  Point best() {
    return records.peekFirst();
  }

  /** The last point of each level evaluated so far, in schedule order. */
  List<Point> snapshots() {
    return List.copyOf(snapshots);
  }

  /** The target probability of the input image (after the first point). */
  float startProbability() {
    return curveProbabilities.get(0).floatValue();
  }

  /** The target probability of the last point evaluated. */
  float lastProbability() {
    return last.targetProbability();
  }

  /** The blurred fraction of every point so far, times {@code scale} (100 for percent). */
  double[] curveFractions(double scale) {
    return curveFractions.stream().mapToDouble(f -> f * scale).toArray();
  }

  /** The step of every point so far: 0, 1, 2 ... */
  double[] curveSteps() {
    return IntStream.range(0, curveFractions.size()).asDoubleStream().toArray();
  }

  /** The target probability of every point so far. */
  double[] curveProbabilities() {
    return curveProbabilities.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /** The input image low-pass filtered (after the first point). */
  float[] blurredStart() {
    return blurredStart;
  }

  /** Per-pixel Euclidean norm of {@code gradient} over its {@code channels} channels. */
  static float[] sensitivityNorm(float[] gradient, int channels) {
    int pixels = gradient.length / channels;
    float[] norm = new float[pixels];
    for (int p = 0; p < pixels; p++) {
      double s = 0;
      for (int c = 0; c < channels; c++) {
        double v = gradient[c * pixels + p];
        s += v * v;
      }
      norm[p] = (float) Math.sqrt(s);
    }
    return norm;
  }

  /**
   * The {@code round(fraction * pixels)} pixels of lowest {@code norm} (ties: lower index first):
   * the pixels below the level that leaves that fraction of the image under it.
   */
  static boolean[] belowLevel(float[] norm, double fraction) {
    int count = (int) Math.round(fraction * norm.length);
    boolean[] below = new boolean[norm.length];
    if (count == 0) {
      return below;
    }
    // Norms are >= 0, so their float bits sort as the values do; the low half breaks ties.
    long[] keys = new long[norm.length];
    for (int p = 0; p < norm.length; p++) {
      keys[p] = ((long) Float.floatToIntBits(norm[p]) << 32) | p;
    }
    Arrays.sort(keys);
    for (int i = 0; i < count; i++) {
      below[(int) keys[i]] = true;
    }
    return below;
  }

  /** The level: the smallest norm of a pixel left unblurred (the largest norm if none is). */
  static double levelOf(float[] norm, boolean[] below) {
    double level = Double.POSITIVE_INFINITY;
    double max = 0;
    for (int p = 0; p < norm.length; p++) {
      max = Math.max(max, norm[p]);
      if (!below[p]) {
        level = Math.min(level, norm[p]);
      }
    }
    return Double.isInfinite(level) ? max : level;
  }

  /**
   * One step: blurred pixels take the low-passed image's values, the others move along the
   * gradient by at most {@code littleH} of the pixel range (the gradient scaled by its largest
   * absolute value), and every value is clipped to the pixel range.
   */
  static float[] update(float[] image, float[] blurredImage, float[] gradient, boolean[] below,
      double littleH, InputSpec spec) {
    int pixels = below.length;
    int channels = image.length / pixels;
    double maxAbs = 0;
    for (float v : gradient) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
    }
    double scale = maxAbs > 0 ? littleH * (spec.pixelMax() - spec.pixelMin()) / maxAbs : 0;
    float[] next = new float[image.length];
    for (int c = 0; c < channels; c++) {
      for (int p = 0; p < pixels; p++) {
        int i = c * pixels + p;
        double v = below[p] ? blurredImage[i] : image[i] + scale * gradient[i];
        next[i] = (float) Math.min(spec.pixelMax(), Math.max(spec.pixelMin(), v));
      }
    }
    return next;
  }

  /** {@code image} with the {@code below} pixels painted in {@code colour} (all channels). */
  static float[] masked(float[] image, boolean[] below, float colour) {
    int pixels = below.length;
    float[] out = image.clone();
    for (int i = 0; i < out.length; i++) {
      if (below[i % pixels]) {
        out[i] = colour;
      }
    }
    return out;
  }
}
