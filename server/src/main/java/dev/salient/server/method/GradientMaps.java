package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;

/** Pixel-wise arithmetic the gradient methods share: channel reductions and norms. */
final class GradientMaps {
  private GradientMaps() {}

  /** Per pixel, the largest {@code ReLU(g)} over channels: seed 001, eq. 3. */
  static float[] positive(float[] chw, int channels) {
    return maxOverChannels(chw, channels, 1f);
  }

  /** Per pixel, the largest {@code ReLU(-g)} over channels: seed 001, eq. 4. */
  static float[] negative(float[] chw, int channels) {
    return maxOverChannels(chw, channels, -1f);
  }

  private static float[] maxOverChannels(float[] chw, int channels, float sign) {
    int pixels = chw.length / channels;
    float[] out = new float[pixels];
    for (int c = 0; c < channels; c++) {
      for (int p = 0; p < pixels; p++) {
        out[p] = Math.max(out[p], sign * chw[c * pixels + p]);
      }
    }
    return out;
  }

  /** Per pixel, the largest value over channels of a non-negative [C, H, W] map. */
  static float[] maxOverChannels(float[] chw, int channels) {
    return maxOverChannels(chw, channels, 1f);
  }

  /** Per pixel, the sum over channels. */
  static float[] sumOverChannels(double[] chw, int channels) {
    int pixels = chw.length / channels;
    float[] out = new float[pixels];
    for (int p = 0; p < pixels; p++) {
      double s = 0;
      for (int c = 0; c < channels; c++) {
        s += chw[c * pixels + p];
      }
      out[p] = (float) s;
    }
    return out;
  }

  /** {@code a - b}, element-wise. */
  static float[] difference(float[] a, float[] b) {
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i] - b[i];
    }
    return out;
  }

  /** Doubles rounded to floats. */
  static float[] toFloats(double[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = (float) v[i];
    }
    return out;
  }

  /** The Euclidean norm. */
  static double l2(float[] v) {
    double s = 0;
    for (float x : v) {
      s += (double) x * x;
    }
    return Math.sqrt(s);
  }

  /** The largest absolute value. */
  static double maxAbs(float[] v) {
    double m = 0;
    for (float x : v) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  /** The sum, in double. */
  static double sum(float[] v) {
    double s = 0;
    for (float x : v) {
      s += x;
    }
    return s;
  }

  /** The fraction of entries above zero. */
  static double fractionPositive(float[] v) {
    int n = 0;
    for (float x : v) {
      if (x > 0) {
        n++;
      }
    }
    return (double) n / v.length;
  }

  /** An [H, W] tensor in the model's input resolution. */
  static FloatTensor pixelMap(InputSpec spec, float[] data) {
    return new FloatTensor(new long[] {spec.height(), spec.width()}, data);
  }

  /** A [C, H, W] tensor in the model's input shape. */
  static FloatTensor channelMap(InputSpec spec, float[] data) {
    return new FloatTensor(spec.shape(), data);
  }
}
