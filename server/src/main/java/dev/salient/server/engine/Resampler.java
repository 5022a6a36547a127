package dev.salient.server.engine;

import dev.salient.server.engine.Preprocessing.Filter;

/**
 * Resampling weights that reproduce PIL's {@code Image.resize} (Pillow's libImaging Resample.c,
 * and Geometry.c for nearest): separable, one {@link Axis} per direction; when an axis shrinks,
 * the filter's support is widened by the scale factor, which is the antialiasing that torchvision's
 * {@code Resize} gets from PIL.
 *
 * <p>Each axis keeps both PIL's floating-point weights and its 22-bit fixed-point ones: 8-bit
 * images are resampled with the fixed-point weights and rounded to 8 bits after each pass, as PIL
 * does, so the results equal PIL's; deeper images use the floating-point weights.
 */
final class Resampler {

  /** Fixed-point fraction bits of PIL's 8-bit resampling: 32 - 8 - 2. */
  static final int PRECISION_BITS = 22;

  /** Half of one fixed-point unit: the start value of every sum, so that shifting rounds. */
  static final int HALF = 1 << (PRECISION_BITS - 1);

  private Resampler() {}

  /**
   * The weights of one axis: output pixel {@code j} (of the kept ones) is the weighted sum of
   * source pixels {@code first[j]} onwards.
   */
  static final class Axis {
    final int[] first;
    final double[][] weights;
    final int[][] fixed;

    private Axis(int[] first, double[][] weights) {
      this.first = first;
      this.weights = weights;
      this.fixed = new int[weights.length][];
      for (int j = 0; j < weights.length; j++) {
        fixed[j] = new int[weights[j].length];
        for (int k = 0; k < weights[j].length; k++) {
          double w = weights[j][k] * (1 << PRECISION_BITS);
          // C's (int) truncates toward zero, so PIL rounds negative weights away from zero.
          fixed[j][k] = (int) (w < 0 ? w - 0.5 : w + 0.5);
        }
      }
    }

    /** Number of output pixels. */
    int size() {
      return first.length;
    }

    /** One past the last source pixel that output {@code j} reads. */
    int end(int j) {
      return first[j] + weights[j].length;
    }

    /** Output {@code j} of an 8-bit row, with PIL's fixed-point sum and rounding. */
    int apply8(int[] in, int j) {
      int[] k = fixed[j];
      int start = first[j];
      int sum = HALF;
      for (int i = 0; i < k.length; i++) {
        sum += in[start + i] * k[i];
      }
      return clip8(sum);
    }

    /** Output {@code j} of a row of any depth, in floating point. */
    double apply(int[] in, int j) {
      double[] k = weights[j];
      int start = first[j];
      double sum = 0;
      for (int i = 0; i < k.length; i++) {
        sum += in[start + i] * k[i];
      }
      return sum;
    }
  }

  /** A fixed-point sum back to 8 bits, clipped to [0, 255]. */
  static int clip8(int sum) {
    if (sum >= (1 << PRECISION_BITS << 8)) {
      return 255;
    }
    if (sum <= 0) {
      return 0;
    }
    return sum >> PRECISION_BITS;
  }

  /**
   * The weights that resize an axis of {@code inSize} pixels to {@code resizedSize}, for the
   * {@code count} output pixels from {@code from} on (a crop keeps only those).
   */
  static Axis axis(Filter filter, int inSize, int resizedSize, int from, int count) {
    if (from < 0 || count < 1 || from + count > resizedSize) {
      throw new IllegalArgumentException(
          "outputs [" + from + ", " + (from + count) + ") are not inside 0.." + resizedSize);
    }
    return filter == Filter.NEAREST
        ? nearest(inSize, resizedSize, from, count)
        : convolution(filter, inSize, resizedSize, from, count);
  }

  /** PIL's {@code precompute_coeffs}: a filter centred on each output pixel's centre. */
  private static Axis convolution(Filter filter, int inSize, int resizedSize, int from, int count) {
    double scale = (double) inSize / resizedSize;
    double filterScale = Math.max(scale, 1.0);
    double support = support(filter) * filterScale;
    int[] first = new int[count];
    double[][] weights = new double[count][];
    for (int j = 0; j < count; j++) {
      double centre = (from + j + 0.5) * scale;
      int min = Math.max(0, (int) (centre - support + 0.5));
      int max = Math.min(inSize, (int) (centre + support + 0.5));
      double[] k = new double[max - min];
      double total = 0;
      for (int i = 0; i < k.length; i++) {
        k[i] = kernel(filter, (i + min - centre + 0.5) / filterScale);
        total += k[i];
      }
      if (total != 0) {
        for (int i = 0; i < k.length; i++) {
          k[i] /= total;
        }
      }
      first[j] = min;
      weights[j] = k;
    }
    return new Axis(first, weights);
  }

  /**
   * PIL's nearest neighbour ({@code ImagingScaleAffine}): the source position advances by the
   * scale factor one output pixel at a time, summed as PIL sums it so that ties fall the same way.
   */
  private static Axis nearest(int inSize, int resizedSize, int from, int count) {
    double step = (double) inSize / resizedSize;
    double position = step * 0.5;
    int[] first = new int[count];
    double[][] weights = new double[count][];
    for (int x = 0; x < from + count; x++) {
      if (x >= from) {
        int source = position < 0 ? 0 : Math.min(inSize - 1, (int) position);
        first[x - from] = source;
        weights[x - from] = new double[] {1.0};
      }
      position += step;
    }
    return new Axis(first, weights);
  }

  private static double support(Filter filter) {
    return switch (filter) {
      case AREA -> 0.5;
      case BILINEAR -> 1.0;
      case BICUBIC -> 2.0;
      case NEAREST -> throw new IllegalArgumentException("nearest has no filter support");
    };
  }

  private static double kernel(Filter filter, double x) {
    return switch (filter) {
      case AREA -> x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
      case BILINEAR -> Math.max(0.0, 1.0 - Math.abs(x));
      case BICUBIC -> bicubic(Math.abs(x));
      case NEAREST -> throw new IllegalArgumentException("nearest has no filter kernel");
    };
  }

  /** Keys' cubic convolution with a = -0.5, PIL's {@code bicubic_filter}; x is not negative. */
  private static double bicubic(double x) {
    double a = -0.5;
    if (x < 1.0) {
      return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
      return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
  }
}
