package dev.salient.server.engine;

/** Numerically stable softmax on plain arrays. */
public final class Softmax {
  private Softmax() {}

  /** Softmax of {@code logits}, computed in double precision. */
  public static float[] of(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float z : logits) {
      max = Math.max(max, z);
    }
    double sum = 0;
    double[] e = new double[logits.length];
    for (int i = 0; i < logits.length; i++) {
      e[i] = Math.exp(logits[i] - max);
      sum += e[i];
    }
    float[] p = new float[logits.length];
    for (int i = 0; i < logits.length; i++) {
      p[i] = (float) (e[i] / sum);
    }
    return p;
  }
}
