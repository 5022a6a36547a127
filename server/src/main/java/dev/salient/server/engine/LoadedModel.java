package dev.salient.server.engine;

import ai.djl.ndarray.NDArray;

/** A model loaded on one device; used only on that device's engine thread. */
interface LoadedModel extends AutoCloseable {

  /** The package it was loaded from. */
  ModelPackage modelPackage();

  /**
   * Maps a normalised input (N, C, H, W) to logits (N, classes). With {@code recordGradient} the
   * call records the autograd graph so the caller can take input gradients; the model stays in
   * eval mode either way.
   */
  NDArray forward(NDArray normalisedInput, boolean recordGradient);

  /** Whether the model is split at a feature layer, so {@link #features} and {@link #head} work. */
  default boolean hasFeatureLayer() {
    return false;
  }

  /**
   * The first part of a split model: a normalised input (N, C, H, W) to the feature layer's
   * activations (N, K, h, w). {@code head(features(x))} equals {@code forward(x)}.
   */
  default NDArray features(NDArray normalisedInput, boolean recordGradient) {
    throw new UnsupportedOperationException(
        "model " + modelPackage().name() + " has no feature layer");
  }

  /** The second part of a split model: feature activations (N, K, h, w) to logits (N, classes). */
  default NDArray head(NDArray features, boolean recordGradient) {
    throw new UnsupportedOperationException(
        "model " + modelPackage().name() + " has no feature layer");
  }

  /**
   * What walks the model layer by layer for the white-box methods, or null when its layers
   * cannot be walked ({@link LayerWalk#walkable}).
   */
  default LayerWalker walker() {
    return null;
  }

  @Override
  void close();
}
