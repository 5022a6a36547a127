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

  @Override
  void close();
}
