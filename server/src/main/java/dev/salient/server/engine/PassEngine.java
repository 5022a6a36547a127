package dev.salient.server.engine;

/** Runs passes on one device; called from that device's engine thread only. */
public interface PassEngine extends AutoCloseable {

  /** Runs {@code pass} on model {@code modelName}. */
  PassResult run(String modelName, Pass pass);

  /** Frees the device's models and native memory. */
  @Override
  void close();
}
