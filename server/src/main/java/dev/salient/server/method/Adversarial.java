package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Ranking;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import java.util.List;

/**
 * What the adversarial-example methods (GeoSal, FGSM, BIM) share: the goal of a search and its
 * logit margin, the box clip, distances, and the maps of a result.
 */
final class Adversarial {
  private Adversarial() {}

  /** FGSM's and BIM's {@code untargeted} parameter. */
  static Parameter<Boolean> untargeted() {
    return Parameter.flag("untargeted", "true: leave the predicted class rather than reach the "
        + "target class; always so when the target is the predicted class", false);
  }

  /**
   * Where a search goes from an image classified as {@code source}: to a point classified as
   * {@code target} (targeted), or to any point no longer classified as {@code source}.
   */
  record Goal(int source, int target, boolean untargeted) {

    /** A targeted goal needs a target other than the source. */
    Goal {
      if (!untargeted && source == target) {
        throw new IllegalArgumentException("a targeted goal needs a target other than the source");
      }
    }

    /**
     * How far {@code logits} are from the goal, in logits: {@code max_{c != Q} y_c - y_Q}
     * (targeted) or {@code y_P - max_{c != P} y_c} (untargeted). Positive until the goal is
     * reached, negative once it is; for the first step of a targeted search from an image
     * classified as P it is GeoSal's {@code y' = y_P - y_Q}.
     */
    double margin(float[] logits) {
      if (untargeted) {
        return (double) logits[source] - logits[strongestExcept(logits, source)];
      }
      return (double) logits[strongestExcept(logits, target)] - logits[target];
    }

    /** Whether {@code logits} classify as the target (or no longer as the source). */
    boolean reached(float[] logits) {
      return margin(logits) < 0;
    }

    /**
     * The class the search is heading for at {@code logits}: the target, or (untargeted) the
     * strongest class other than the source.
     */
    int heading(float[] logits) {
      return untargeted ? strongestExcept(logits, source) : target;
    }
  }

  /** The highest-scoring class other than {@code excluded} (ties: the lower index). */
  static int strongestExcept(float[] logits, int excluded) {
    int best = -1;
    for (int c = 0; c < logits.length; c++) {
      if (c != excluded && (best < 0 || logits[c] > logits[best])) {
        best = c;
      }
    }
    return best;
  }

  /** The predicted class of {@code logits}, ties broken as in the started event. */
  static int predicted(float[] logits) {
    return Ranking.indexOfRank(logits, 1);
  }

  /** {@code v} clipped into the model's pixel range, in place; returns {@code v}. */
  static float[] clip(float[] v, InputSpec spec) {
    for (int i = 0; i < v.length; i++) {
      v[i] = Math.max(spec.pixelMin(), Math.min(spec.pixelMax(), v[i]));
    }
    return v;
  }

  /** The Euclidean distance ‖a - b‖₂, in double precision. */
  static double l2(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double d = (double) a[i] - b[i];
      s += d * d;
    }
    return Math.sqrt(s);
  }

  /** {@code to - from}, element-wise. */
  static float[] difference(float[] from, float[] to) {
    float[] d = new float[from.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = to[i] - from[i];
    }
    return d;
  }

  /**
   * Accumulates a weighted explanation of one adversarial example {@code adversarial} of {@code
   * image}: {@code difference += weight * (x' - x)} ([C, H, W]) and {@code importance += weight *
   * sum_c |x - x'|} ([H, W]; the absolute value makes changes of opposite sign add, not cancel).
   */
  static void accumulate(float[] image, float[] adversarial, double weight, int channels,
      float[] difference, float[] importance) {
    int pixels = image.length / channels;
    for (int i = 0; i < image.length; i++) {
      float d = adversarial[i] - image[i];
      difference[i] += (float) (weight * d);
      importance[i % pixels] += (float) (weight * Math.abs(d));
    }
  }

  /** The three maps every adversarial result carries: example, signed difference, importance. */
  static List<SaliencyMap> maps(InputSpec spec, float[] adversarial, float[] difference,
      float[] importance) {
    return List.of(
        new SaliencyMap("adversarial", new FloatTensor(spec.shape(), adversarial.clone()),
            ColourScale.SEQUENTIAL),
        new SaliencyMap("difference", new FloatTensor(spec.shape(), difference),
            ColourScale.DIVERGING),
        new SaliencyMap("importance",
            new FloatTensor(new long[] {spec.height(), spec.width()}, importance),
            ColourScale.SEQUENTIAL));
  }

  /** 1.0 or 0.0. */
  static double indicator(boolean b) {
    return b ? 1.0 : 0.0;
  }
}
