package dev.salient.server.method;

import dev.salient.server.engine.LayerWalk;

/**
 * The arithmetic the white-box methods walk a network backwards with, on plain arrays: each
 * weighted layer's map without its bias and the transpose (adjoint) of that map, max-pooling's
 * winners, weight signs and percentiles. Sums run in double.
 */
final class LayerOps {
  private LayerOps() {}

  /** {@code conv(x)} with {@code weight} in place of the layer's, without a bias. */
  static double[] conv(LayerWalk.Conv c, float[] weight, double[] x) {
    int inC = c.in()[0];
    int inH = c.in()[1];
    int inW = c.in()[2];
    int outC = c.out()[0];
    int outH = c.out()[1];
    int outW = c.out()[2];
    int kh = c.kernelHeight();
    int kw = c.kernelWidth();
    double[] out = new double[outC * outH * outW];
    for (int o = 0; o < outC; o++) {
      for (int i = 0; i < inC; i++) {
        for (int ky = 0; ky < kh; ky++) {
          for (int kx = 0; kx < kw; kx++) {
            double w = weight[((o * inC + i) * kh + ky) * kw + kx];
            if (w == 0) {
              continue;
            }
            for (int y = 0; y < outH; y++) {
              int iy = y * c.stride() - c.padding() + ky;
              if (iy < 0 || iy >= inH) {
                continue;
              }
              int outRow = (o * outH + y) * outW;
              int inRow = (i * inH + iy) * inW;
              for (int xx = 0; xx < outW; xx++) {
                int ix = xx * c.stride() - c.padding() + kx;
                if (ix >= 0 && ix < inW) {
                  out[outRow + xx] += w * x[inRow + ix];
                }
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * The transpose of {@link #conv}: what the convolution's input receives from {@code g} at its
   * output, {@code sum_o sum_k w[o, i, k] g[o, y]} (the gradient's backward step, a transposed
   * convolution).
   */
  static double[] convTranspose(LayerWalk.Conv c, float[] weight, double[] g) {
    int inC = c.in()[0];
    int inH = c.in()[1];
    int inW = c.in()[2];
    int outC = c.out()[0];
    int outH = c.out()[1];
    int outW = c.out()[2];
    int kh = c.kernelHeight();
    int kw = c.kernelWidth();
    double[] in = new double[inC * inH * inW];
    for (int o = 0; o < outC; o++) {
      for (int i = 0; i < inC; i++) {
        for (int ky = 0; ky < kh; ky++) {
          for (int kx = 0; kx < kw; kx++) {
            double w = weight[((o * inC + i) * kh + ky) * kw + kx];
            if (w == 0) {
              continue;
            }
            for (int y = 0; y < outH; y++) {
              int iy = y * c.stride() - c.padding() + ky;
              if (iy < 0 || iy >= inH) {
                continue;
              }
              int outRow = (o * outH + y) * outW;
              int inRow = (i * inH + iy) * inW;
              for (int xx = 0; xx < outW; xx++) {
                int ix = xx * c.stride() - c.padding() + kx;
                if (ix >= 0 && ix < inW) {
                  in[inRow + ix] += w * g[outRow + xx];
                }
              }
            }
          }
        }
      }
    }
    return in;
  }

  /** {@code W x} with {@code weight} in place of the layer's, without a bias. */
  static double[] linear(LayerWalk.Linear l, float[] weight, double[] x) {
    double[] out = new double[l.outputs()];
    for (int o = 0; o < l.outputs(); o++) {
      double s = 0;
      int row = o * l.inputs();
      for (int i = 0; i < l.inputs(); i++) {
        s += weight[row + i] * x[i];
      }
      out[o] = s;
    }
    return out;
  }

  /** The transpose of {@link #linear}: {@code W^T g}. */
  static double[] linearTranspose(LayerWalk.Linear l, float[] weight, double[] g) {
    double[] in = new double[l.inputs()];
    for (int o = 0; o < l.outputs(); o++) {
      double go = g[o];
      if (go == 0) {
        continue;
      }
      int row = o * l.inputs();
      for (int i = 0; i < l.inputs(); i++) {
        in[i] += weight[row + i] * go;
      }
    }
    return in;
  }

  /**
   * For each output of a max-pooling layer, the index in {@code input} of its window's largest
   * value (the first of equal ones, as libtorch picks).
   */
  static int[] winners(LayerWalk.MaxPool p, float[] input) {
    int[] out = p.out();
    int h = p.in()[1];
    int w = p.in()[2];
    int[] winners = new int[out[0] * out[1] * out[2]];
    for (int ch = 0; ch < out[0]; ch++) {
      for (int y = 0; y < out[1]; y++) {
        for (int x = 0; x < out[2]; x++) {
          int best = -1;
          for (int dy = 0; dy < p.size(); dy++) {
            for (int dx = 0; dx < p.size(); dx++) {
              int at = (ch * h + y * p.size() + dy) * w + x * p.size() + dx;
              if (best < 0 || input[at] > input[best]) {
                best = at;
              }
            }
          }
          winners[(ch * out[1] + y) * out[2] + x] = best;
        }
      }
    }
    return winners;
  }

  /** Each output's value handed to its window's winner; the other inputs get 0. */
  static double[] toWinners(LayerWalk.MaxPool p, float[] input, double[] atOutput) {
    int[] winners = winners(p, input);
    double[] in = new double[p.inputSize()];
    for (int k = 0; k < winners.length; k++) {
      in[winners[k]] += atOutput[k];
    }
    return in;
  }

  /** {@code max(0, w)}, element-wise. */
  static float[] positivePart(float[] weight) {
    float[] out = new float[weight.length];
    for (int i = 0; i < weight.length; i++) {
      out[i] = Math.max(0f, weight[i]);
    }
    return out;
  }

  /** {@code min(0, w)}, element-wise. */
  static float[] negativePart(float[] weight) {
    float[] out = new float[weight.length];
    for (int i = 0; i < weight.length; i++) {
      out[i] = Math.min(0f, weight[i]);
    }
    return out;
  }

  /**
   * The {@code q}-th percentile of {@code values} (0 to 100), by the lower nearest rank: the
   * value at index {@code floor(q / 100 * (n - 1))} of the sorted values. {@code q = 0} gives the
   * smallest value, {@code q = 100} the largest.
   */
  static double percentile(double[] values, double q) {
    double[] sorted = values.clone();
    java.util.Arrays.sort(sorted);
    int index = (int) Math.floor(q / 100 * (sorted.length - 1));
    return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
  }

  /** Floats as doubles. */
  static double[] toDoubles(float[] v) {
    double[] out = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i];
    }
    return out;
  }

  /** The sum. */
  static double sum(double[] v) {
    double s = 0;
    for (double x : v) {
      s += x;
    }
    return s;
  }

  /** The {@code [channels, height, width]} a layer takes, or null when it takes a vector. */
  static int[] spatialInput(LayerWalk.Layer layer) {
    if (layer instanceof LayerWalk.Conv c) {
      return c.in();
    }
    if (layer instanceof LayerWalk.MaxPool p) {
      return p.in();
    }
    if (layer instanceof LayerWalk.Flatten f) {
      return f.in();
    }
    if (layer instanceof LayerWalk.Relu r && r.spatial()) {
      return r.shape();
    }
    return null;
  }

  /**
   * A per-layer map for a frame: {@code values} of shape {@code [C, h, w]} summed over channels
   * and scaled bilinearly to the input's {@code height x width}.
   */
  static float[] channelSumAtInputSize(double[] values, int[] chw, int height, int width) {
    int cells = chw[1] * chw[2];
    float[] sum = new float[cells];
    for (int ch = 0; ch < chw[0]; ch++) {
      for (int p = 0; p < cells; p++) {
        sum[p] += (float) values[ch * cells + p];
      }
    }
    return chw[1] == height && chw[2] == width ? sum
        : Bilinear.resize(sum, chw[1], chw[2], height, width);
  }
}
