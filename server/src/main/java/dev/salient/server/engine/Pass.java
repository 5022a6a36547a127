package dev.salient.server.engine;

import java.util.List;

/**
 * One model pass over a batch of images: a forward pass, and optionally the input gradient of a
 * per-row objective. This is the unit the device worker schedules and batches.
 *
 * @param images images in the model's pixel space (before normalisation), each {@code C*H*W}
 * @param objective what to differentiate, or {@code null} for a forward pass only
 * @param extras what else the engine computes in the same call
 * @param alone run this pass's images one per engine call and never with another pass's: the
 *     call's shape is then one image whatever the load, the method's own batching or the
 *     device's best batch, so a row's outputs are the same bit for bit from run to run (the
 *     engine picks kernels by batch shape; a shared call differs by float rounding)
 */
public record Pass(List<float[]> images, Objective objective, Extras extras, boolean alone) {

  /** A pass with no extras. */
  public Pass(List<float[]> images, Objective objective) {
    this(images, objective, Extras.NONE);
  }

  /** A pass that may share engine calls. */
  public Pass(List<float[]> images, Objective objective, Extras extras) {
    this(images, objective, extras, false);
  }

  /**
   * Work the engine does beside the model pass, in the same call.
   *
   * @param blurSigma when positive, also return each input image low-pass filtered with a
   *     Gaussian of this standard deviation in pixels (see {@link PassResult#blurred()})
   * @param featureLayer also return the activations of the model's feature layer and, when the
   *     pass has an objective, the objective's gradient with respect to them (see {@link
   *     PassResult#features()}); only for models whose package names a feature layer
   */
  public record Extras(float blurSigma, boolean featureLayer, boolean layerWalk) {
    /** Nothing extra. */
    public static final Extras NONE = new Extras(0f);

    /** The feature layer's activations and gradients, nothing else. */
    public static final Extras FEATURE_LAYER = new Extras(0f, true);

    /** Each image's {@link LayerWalk}, nothing else. */
    public static final Extras LAYER_WALK = new Extras(0f, false, true);

    /** A blur only. */
    public Extras(float blurSigma) {
      this(blurSigma, false);
    }

    /** A blur and the feature layer, no walk. */
    public Extras(float blurSigma, boolean featureLayer) {
      this(blurSigma, featureLayer, false);
    }

    /** Checks the values. */
    public Extras {
      if (!(blurSigma >= 0) || blurSigma > 64) {
        throw new IllegalArgumentException("blur sigma must be in [0, 64] pixels");
      }
    }
  }

  /**
   * Whether {@code other} can run in the same engine call as this pass: neither runs {@linkplain
   * #alone() alone}, same extras, and both forward-only or both with an objective (each row keeps
   * its own output: logits, probabilities or log-probabilities).
   */
  public boolean canShareCallWith(Pass other) {
    return !alone && !other.alone && extras.equals(other.extras)
        && (objective == null) == (other.objective == null);
  }

  /** The same pass, run {@linkplain #alone() alone}. */
  public Pass runAlone() {
    return alone ? this : new Pass(images, objective, extras, true);
  }

  /** One pass of all rows of {@code passes} (which can share a call), in order. */
  public static Pass concat(List<Pass> passes) {
    if (passes.size() == 1) {
      return passes.get(0);
    }
    if (passes.stream().anyMatch(Pass::alone)) {
      throw new IllegalArgumentException("a pass that runs alone cannot be joined to others");
    }
    List<float[]> images = new java.util.ArrayList<>();
    List<Output> outputs = new java.util.ArrayList<>();
    List<float[]> weights = new java.util.ArrayList<>();
    int[] ranks = new int[passes.stream().mapToInt(Pass::size).sum()];
    int row = 0;
    for (Pass p : passes) {
      images.addAll(p.images());
      if (p.objective() != null) {
        outputs.addAll(p.objective().outputs());
        weights.addAll(p.objective().classWeights());
        System.arraycopy(p.objective().ranks(), 0, ranks, row, p.size());
      }
      row += p.size();
    }
    Pass first = passes.get(0);
    return new Pass(images, first.objective() == null ? null
        : new Objective(outputs, weights, ranks), first.extras());
  }

  /** The rows {@code [from, to)} of this pass, as a pass of their own. */
  public Pass slice(int from, int to) {
    return new Pass(images.subList(from, to), objective == null ? null
        : new Objective(objective.outputs().subList(from, to),
            objective.classWeights().subList(from, to),
            java.util.Arrays.copyOfRange(objective.ranks(), from, to)), extras, alone);
  }

  /** The same pass with {@code extras}. */
  public Pass with(Extras newExtras) {
    return new Pass(images, objective, newExtras, alone);
  }

  /** Validates the shape of the request. */
  public Pass {
    images = List.copyOf(images);
    java.util.Objects.requireNonNull(extras, "extras");
    if (images.isEmpty()) {
      throw new IllegalArgumentException("a pass needs at least one image");
    }
    if (objective != null && objective.classWeights().size() != images.size()) {
      throw new IllegalArgumentException("an objective needs one weight vector per image");
    }
  }

  /** A forward pass only. */
  public static Pass forward(List<float[]> images) {
    return new Pass(images, null);
  }

  /** Forward and the input gradient of {@code output[target]} for each image. */
  public static Pass gradient(List<float[]> images, Output output, int[] targets, int numClasses) {
    List<float[]> weights = new java.util.ArrayList<>(targets.length);
    for (int target : targets) {
      float[] w = new float[numClasses];
      w[target] = 1f;
      weights.add(w);
    }
    return new Pass(images, new Objective(output, weights));
  }

  /** Number of images. */
  public int size() {
    return images.size();
  }

  /** Which model output an objective is built on. */
  public enum Output {
    /** The raw class score before softmax. */
    LOGIT,
    /** The softmax probability. */
    PROBABILITY,
    /** The log of the softmax probability. */
    LOG_PROBABILITY
  }

  /**
   * Forward and the input gradient of {@code output} of each image's {@code ranks[i]}-th best
   * class (1 = the predicted class), ranked by this very pass's logits: a method can have the
   * prediction and its gradient in one pass.
   */
  public static Pass gradientOfRanked(List<float[]> images, Output output, int[] ranks) {
    return new Pass(images, Objective.ranked(output, ranks));
  }

  /**
   * The scalar whose input gradient is wanted, per image: {@code sum_k weights[k] * output[k]},
   * where each row has its own output ({@code outputs[i]}: rows of different requests batched
   * into one call keep theirs). A one-hot vector picks one class; {@code e_P - e_Q} gives the
   * margin between two classes. A row with a positive {@code ranks[i]} instead picks its
   * {@code ranks[i]}-th best class by the pass's own logits (its weight vector is then empty).
   *
   * <p>Images in one pass are independent (models run in eval mode), so the gradient of the sum
   * of all rows' objectives gives each row the gradient of its own objective.
   */
  public record Objective(List<Output> outputs, List<float[]> classWeights, int[] ranks) {
    /** Checks that each row has an output, and weights or a rank. */
    public Objective {
      outputs = List.copyOf(outputs);
      classWeights = List.copyOf(classWeights);
      ranks = ranks.clone();
      if (ranks.length != classWeights.size() || outputs.size() != classWeights.size()) {
        throw new IllegalArgumentException("an objective needs one output and one rank entry "
            + "per row");
      }
      for (int i = 0; i < ranks.length; i++) {
        if (ranks[i] < 0 || (ranks[i] == 0) == (classWeights.get(i).length == 0)) {
          throw new IllegalArgumentException("row " + i + " needs class weights or a rank");
        }
      }
    }

    /** An objective on {@code output} of every row given by class weights, one vector per row. */
    public Objective(Output output, List<float[]> classWeights) {
      this(java.util.Collections.nCopies(classWeights.size(), output), classWeights,
          new int[classWeights.size()]);
    }

    /** The output row {@code row}'s objective is built on. */
    public Output outputOf(int row) {
      return outputs.get(row);
    }

    /** The {@code ranks[i]}-th best class of each row. */
    public static Objective ranked(Output output, int[] ranks) {
      List<float[]> empty = new java.util.ArrayList<>();
      for (int i = 0; i < ranks.length; i++) {
        empty.add(new float[0]);
      }
      return new Objective(java.util.Collections.nCopies(ranks.length, output), empty, ranks);
    }

    /** The weights of row {@code row} given that row's logits. */
    public float[] weightsFor(int row, float[] logits) {
      if (ranks[row] == 0) {
        return classWeights.get(row);
      }
      float[] w = new float[logits.length];
      w[Ranking.indexOfRank(logits, ranks[row])] = 1f;
      return w;
    }
  }
}
