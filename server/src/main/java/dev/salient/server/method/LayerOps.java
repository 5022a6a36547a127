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
   * convolution). Output channels whose {@code g} is mostly zero (a gradient rectified at the
   * ReLU above) are scattered entry by entry, skipping the zeros; the others row by row.
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
    int cells = outH * outW;
    double[] in = new double[inC * inH * inW];
    for (int o = 0; o < outC; o++) {
      int nonZero = 0;
      for (int p = o * cells; p < (o + 1) * cells; p++) {
        if (g[p] != 0) {
          nonZero++;
        }
      }
      if (nonZero == 0) {
        continue;
      }
      if (nonZero * 8 < cells) {
        scatterSparse(c, weight, g, o, in);
        continue;
      }
      int stride = c.stride();
      for (int i = 0; i < inC; i++) {
        for (int ky = 0; ky < kh; ky++) {
          int yFrom = firstInside(ky, c.padding(), stride);
          int yTo = Math.min(outH - 1, lastInside(ky, c.padding(), stride, inH));
          for (int kx = 0; kx < kw; kx++) {
            double w = weight[((o * inC + i) * kh + ky) * kw + kx];
            if (w == 0) {
              continue;
            }
            // The output columns whose input column lies inside the image, so that the
            // innermost loop has no bounds test (and the JIT can vectorise it at stride 1).
            int xFrom = firstInside(kx, c.padding(), stride);
            int xTo = Math.min(outW - 1, lastInside(kx, c.padding(), stride, inW));
            int shift = kx - c.padding();
            for (int y = yFrom; y <= yTo; y++) {
              int iy = y * stride - c.padding() + ky;
              int outRow = (o * outH + y) * outW;
              int inRow = (i * inH + iy) * inW + shift;
              if (stride == 1) {
                for (int xx = xFrom; xx <= xTo; xx++) {
                  in[inRow + xx] += w * g[outRow + xx];
                }
              } else {
                for (int xx = xFrom; xx <= xTo; xx++) {
                  in[inRow + xx * stride] += w * g[outRow + xx];
                }
              }
            }
          }
        }
      }
    }
    return in;
  }

  /** The first output index whose input index {@code out * stride - padding + k} is >= 0. */
  private static int firstInside(int k, int padding, int stride) {
    return Math.max(0, -Math.floorDiv(k - padding, stride));
  }

  /** The last output index whose input index {@code out * stride - padding + k} is < size. */
  private static int lastInside(int k, int padding, int stride, int size) {
    return Math.floorDiv(size - 1 + padding - k, stride);
  }

  /** {@link #convTranspose}'s share of output channel {@code o}, one non-zero entry at a time. */
  private static void scatterSparse(LayerWalk.Conv c, float[] weight, double[] g, int o,
      double[] in) {
    int inC = c.in()[0];
    int inH = c.in()[1];
    int inW = c.in()[2];
    int outH = c.out()[1];
    int outW = c.out()[2];
    int kh = c.kernelHeight();
    int kw = c.kernelWidth();
    for (int y = 0; y < outH; y++) {
      for (int xx = 0; xx < outW; xx++) {
        double gv = g[(o * outH + y) * outW + xx];
        if (gv == 0) {
          continue;
        }
        for (int i = 0; i < inC; i++) {
          int wBase = (o * inC + i) * kh * kw;
          for (int ky = 0; ky < kh; ky++) {
            int iy = y * c.stride() - c.padding() + ky;
            if (iy < 0 || iy >= inH) {
              continue;
            }
            int inRow = (i * inH + iy) * inW;
            for (int kx = 0; kx < kw; kx++) {
              int ix = xx * c.stride() - c.padding() + kx;
              if (ix >= 0 && ix < inW) {
                in[inRow + ix] += weight[wBase + ky * kw + kx] * gv;
              }
            }
          }
        }
      }
    }
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
   * value (the first of equal ones in row-major order, as libtorch picks; padding never wins).
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
          for (int dy = 0; dy < p.kernel(); dy++) {
            int iy = y * p.stride() - p.padding() + dy;
            if (iy < 0 || iy >= h) {
              continue;
            }
            for (int dx = 0; dx < p.kernel(); dx++) {
              int ix = x * p.stride() - p.padding() + dx;
              if (ix < 0 || ix >= w) {
                continue;
              }
              int at = (ch * h + iy) * w + ix;
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

  /**
   * Each output's value handed to its window's winner; the other inputs get 0, an input that
   * wins several overlapping windows the sum.
   */
  static double[] toWinners(LayerWalk.MaxPool p, float[] input, double[] atOutput) {
    int[] winners = winners(p, input);
    double[] in = new double[p.inputSize()];
    for (int k = 0; k < winners.length; k++) {
      in[winners[k]] += atOutput[k];
    }
    return in;
  }

  /** Batch normalisation's linear part: {@code scale * x} per channel, without the shift. */
  static double[] scale(LayerWalk.BatchNorm b, double[] x) {
    double[] out = new double[x.length];
    int cells = x.length / b.shape()[0];
    for (int k = 0; k < x.length; k++) {
      out[k] = b.scale()[k / cells] * x[k];
    }
    return out;
  }

  /** Global average pooling: each channel's mean. */
  static double[] average(LayerWalk.AvgPool p, double[] x) {
    int cells = p.in()[1] * p.in()[2];
    double[] out = new double[p.in()[0]];
    for (int k = 0; k < x.length; k++) {
      out[k / cells] += x[k];
    }
    for (int c = 0; c < out.length; c++) {
      out[c] /= cells;
    }
    return out;
  }

  /** The transpose of {@link #average}: each channel's value spread evenly over its cells. */
  static double[] averageTranspose(LayerWalk.AvgPool p, double[] g) {
    int cells = p.in()[1] * p.in()[2];
    double[] in = new double[p.inputSize()];
    for (int k = 0; k < in.length; k++) {
      in[k] = g[k / cells] / cells;
    }
    return in;
  }

  /**
   * The gradient's backward step through layer {@code i} of {@code walk}: from {@code g} at its
   * output to each activation it reads (both inputs of an addition get {@code g}). A ReLU passes
   * {@code g} where its unit is active.
   */
  static double[][] backward(LayerWalk walk, int i, double[] g) {
    LayerWalk.Layer layer = walk.layers().get(i);
    return switch (layer.kind()) {
      case CONV -> new double[][] {convTranspose((LayerWalk.Conv) layer,
          ((LayerWalk.Conv) layer).weight(), g)};
      case LINEAR -> new double[][] {linearTranspose((LayerWalk.Linear) layer,
          ((LayerWalk.Linear) layer).weight(), g)};
      case MAX_POOL -> new double[][] {toWinners((LayerWalk.MaxPool) layer, walk.input(i), g)};
      case BATCH_NORM -> new double[][] {scale((LayerWalk.BatchNorm) layer, g)};
      case AVG_POOL -> new double[][] {averageTranspose((LayerWalk.AvgPool) layer, g)};
      case ADD -> new double[][] {g.clone(), g.clone()};
      case FLATTEN -> new double[][] {g.clone()};
      case RELU -> {
        float[] out = walk.output(i);
        double[] in = new double[g.length];
        for (int k = 0; k < g.length; k++) {
          in[k] = out[k] > 0 ? g[k] : 0;
        }
        yield new double[][] {in};
      }
    };
  }

  /**
   * Adds {@code contributions}, what layer {@code i} hands back to the activations it reads, to
   * {@code atActivations}: an activation read by several layers (a residual branch point) gets
   * the sum.
   */
  static void accumulate(LayerWalk walk, int i, double[][] contributions,
      double[][] atActivations) {
    int[] reads = walk.reads().get(i);
    for (int k = 0; k < reads.length; k++) {
      double[] at = atActivations[reads[k]];
      if (at == null) {
        atActivations[reads[k]] = contributions[k];
      } else {
        for (int j = 0; j < at.length; j++) {
          at[j] += contributions[k][j];
        }
      }
    }
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
    if (layer instanceof LayerWalk.Add a && a.shape().length == 3) {
      return a.shape();
    }
    if (layer instanceof LayerWalk.BatchNorm b) {
      return b.shape();
    }
    if (layer instanceof LayerWalk.AvgPool p) {
      return p.in();
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
