package dev.salient.server.method;

/**
 * Bilinear resampling of a single-channel map with pixel centres aligned, as PyTorch's {@code
 * interpolate(mode="bilinear", align_corners=False)} and OpenCV's {@code resize} do: output pixel
 * {@code i} samples the input at {@code (i + 0.5) * in / out - 0.5}, clamped to the border.
 */
final class Bilinear {
  private Bilinear() {}

  /** Resamples the row-major {@code h x w} map {@code src} to {@code outH x outW}. */
  static float[] resize(float[] src, int h, int w, int outH, int outW) {
    if (src.length != h * w) {
      throw new IllegalArgumentException("map has " + src.length + " values, not " + h + "x" + w);
    }
    float[] out = new float[outH * outW];
    for (int y = 0; y < outH; y++) {
      double sy = source(y, h, outH);
      int y0 = (int) Math.floor(sy);
      int y1 = Math.min(y0 + 1, h - 1);
      double fy = sy - y0;
      for (int x = 0; x < outW; x++) {
        double sx = source(x, w, outW);
        int x0 = (int) Math.floor(sx);
        int x1 = Math.min(x0 + 1, w - 1);
        double fx = sx - x0;
        double top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
        double bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
        out[y * outW + x] = (float) (top * (1 - fy) + bottom * fy);
      }
    }
    return out;
  }

  /** The input coordinate sampled by output pixel {@code i}, clamped to [0, in - 1]. */
  private static double source(int i, int in, int out) {
    double s = (i + 0.5) * in / out - 0.5;
    return Math.max(0, Math.min(in - 1, s));
  }
}
