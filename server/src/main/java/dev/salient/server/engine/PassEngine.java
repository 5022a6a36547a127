package dev.salient.server.engine;

/** Runs passes on one device; called from that device's engine thread only. */
public interface PassEngine extends AutoCloseable {

  /** Runs {@code pass} on model {@code modelName}. */
  PassResult run(String modelName, Pass pass);

  /**
   * The most images one call on {@code modelName} should carry: past it, more images per call
   * cost more per image on this device. {@link Integer#MAX_VALUE} when not measured.
   */
  default int bestBatch(String modelName) {
    return Integer.MAX_VALUE;
  }

  /** Frees the device's models and native memory. */
  @Override
  void close();
}
