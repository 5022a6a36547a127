package dev.salient.server.engine;

import java.util.List;

/**
 * What a {@link Pass} returns, as plain arrays (no native memory escapes the engine).
 *
 * @param logits one array of class scores per image
 * @param gradients one input gradient ({@code C*H*W}, in pixel space) per image, or {@code null}
 *     when the pass was forward only
 * @param blurred each input image low-pass filtered, when the pass asked for it, else null
 * @param features each image's feature-layer activations ({@code K*h*w}, row-major in {@link
 *     #featureShape()}), when the pass asked for them, else null
 * @param featureGradients the gradient of each image's objective with respect to its feature
 *     activations, when the pass asked for features and had an objective, else null
 * @param featureShape {@code [K, h, w]} of one image's features, or null with no features
 * @param walks each image's forward pass layer by layer, when the pass asked for it, else null
 */
public record PassResult(
    List<float[]> logits,
    List<float[]> gradients,
    List<float[]> blurred,
    List<float[]> features,
    List<float[]> featureGradients,
    long[] featureShape,
    List<LayerWalk> walks) {

  /** Logits and gradients only. */
  public PassResult(List<float[]> logits, List<float[]> gradients) {
    this(logits, gradients, null);
  }

  /** Logits, gradients and blurred images, no features. */
  public PassResult(List<float[]> logits, List<float[]> gradients, List<float[]> blurred) {
    this(logits, gradients, blurred, null, null, null);
  }

  /** Everything but walks. */
  public PassResult(List<float[]> logits, List<float[]> gradients, List<float[]> blurred,
      List<float[]> features, List<float[]> featureGradients, long[] featureShape) {
    this(logits, gradients, blurred, features, featureGradients, featureShape, null);
  }

  /** Copies the lists and checks that features come with their shape. */
  public PassResult {
    walks = walks == null ? null : List.copyOf(walks);
    logits = List.copyOf(logits);
    gradients = copy(gradients);
    blurred = copy(blurred);
    features = copy(features);
    featureGradients = copy(featureGradients);
    featureShape = featureShape == null ? null : featureShape.clone();
    if ((features == null) != (featureShape == null)) {
      throw new IllegalArgumentException("features and their shape come together");
    }
    if (featureGradients != null && features == null) {
      throw new IllegalArgumentException("feature gradients need the features");
    }
  }

  private static List<float[]> copy(List<float[]> rows) {
    return rows == null ? null : List.copyOf(rows);
  }

  private static List<float[]> rows(List<float[]> rows, int from, int to) {
    return rows == null ? null : rows.subList(from, to);
  }

  @Override
  public long[] featureShape() {
    return featureShape == null ? null : featureShape.clone();
  }

  /** Softmax probabilities of image {@code row}. */
  public float[] probabilities(int row) {
    return Softmax.of(logits.get(row));
  }

  /** The rows of {@code parts} (results of consecutive slices of one pass), in order. */
  public static PassResult concat(List<PassResult> parts) {
    if (parts.size() == 1) {
      return parts.get(0);
    }
    PassResult first = parts.get(0);
    return new PassResult(joined(parts, PassResult::logits),
        joined(parts, PassResult::gradients), joined(parts, PassResult::blurred),
        joined(parts, PassResult::features), joined(parts, PassResult::featureGradients),
        first.featureShape, joinedWalks(parts));
  }

  private static List<LayerWalk> joinedWalks(List<PassResult> parts) {
    if (parts.get(0).walks() == null) {
      return null;
    }
    List<LayerWalk> all = new java.util.ArrayList<>();
    parts.forEach(part -> all.addAll(part.walks()));
    return all;
  }

  private static List<float[]> joined(List<PassResult> parts,
      java.util.function.Function<PassResult, List<float[]>> rows) {
    if (rows.apply(parts.get(0)) == null) {
      return null;
    }
    List<float[]> all = new java.util.ArrayList<>();
    parts.forEach(part -> all.addAll(rows.apply(part)));
    return all;
  }

  /** The rows {@code [from, to)} of this result, for handing a batch back to its jobs. */
  public PassResult slice(int from, int to) {
    return new PassResult(logits.subList(from, to), rows(gradients, from, to),
        rows(blurred, from, to), rows(features, from, to), rows(featureGradients, from, to),
        featureShape, walks == null ? null : walks.subList(from, to));
  }
}
