package dev.salient.server.method;

/**
 * What a black-box method puts in place of the pixels it deletes (a LIME superpixel switched off,
 * an occlusion patch). Seed 002 (LIME, Figure 6) shows that the choice changes the explanation:
 * on MNIST, black finds the strokes, white only the background, and the inverse both.
 */
public enum DeletionFill {
  /** The smallest pixel value. */
  BLACK,
  /** The largest pixel value. */
  WHITE,
  /** The middle of the pixel range (Zeiler and Fergus's grey square). */
  GREY,
  /** The deleted region's own mean, channel by channel (LIME's default, hide_color=None). */
  MEAN,
  /** The same pixels of the image low-pass filtered with a Gaussian (see the method's sigma). */
  BLUR,
  /** {@code min + max - x}: seed 002's inverse ({@code 1 - x} on [0, 1]). */
  INVERSE;

  /**
   * The image with every region deleted: each pixel whose {@code regions} label is not negative
   * gets this fill (for {@link #MEAN}, its region's mean); pixels labelled -1 keep their value.
   *
   * @param image {@code C*H*W}
   * @param regions one label per pixel ({@code H*W}), -1 or in {@code [0, regionCount)}
   * @param blurred the blurred image ({@link #BLUR} only, else unused and may be null)
   */
  float[] deleteRegions(float[] image, int channels, int[] regions, int regionCount,
      float pixelMin, float pixelMax, float[] blurred) {
    if (this == BLUR && blurred == null) {
      throw new IllegalArgumentException("the blur fill needs the blurred image");
    }
    float[] out = image.clone();
    int plane = regions.length;
    for (int c = 0; c < channels; c++) {
      int base = c * plane;
      double[] means = this == MEAN ? regionMeans(image, base, regions, regionCount) : null;
      for (int p = 0; p < plane; p++) {
        int label = regions[p];
        if (label < 0) {
          continue;
        }
        float x = image[base + p];
        out[base + p] = switch (this) {
          case BLACK -> pixelMin;
          case WHITE -> pixelMax;
          case GREY -> (pixelMin + pixelMax) / 2;
          case MEAN -> (float) means[label];
          case BLUR -> blurred[base + p];
          case INVERSE -> pixelMin + pixelMax - x;
        };
      }
    }
    return out;
  }

  private static double[] regionMeans(float[] image, int base, int[] regions, int regionCount) {
    double[] sum = new double[regionCount];
    int[] n = new int[regionCount];
    for (int p = 0; p < regions.length; p++) {
      if (regions[p] >= 0) {
        sum[regions[p]] += image[base + p];
        n[regions[p]]++;
      }
    }
    for (int r = 0; r < regionCount; r++) {
      sum[r] = n[r] == 0 ? 0 : sum[r] / n[r];
    }
    return sum;
  }
}
