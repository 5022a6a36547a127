package dev.salient.server.engine;

import java.util.Arrays;
import java.util.Random;

/**
 * What a model expects as input: a [C, H, W] float image with values in [pixelMin, pixelMax],
 * normalised inside the engine as (x - mean[c]) / std[c].
 *
 * <p>All methods work in this pixel space (before normalisation), so gradients, clipping and maps
 * refer to the image a person sees. {@code preprocessing} says how an encoded image is brought to
 * [C, H, W] in the first place.
 */
public record InputSpec(
    int channels,
    int height,
    int width,
    float pixelMin,
    float pixelMax,
    float[] mean,
    float[] std,
    Preprocessing preprocessing) {

  /** Validates the spec; a bad model package fails here with a message naming the field. */
  public InputSpec {
    if (channels != 1 && channels != 3) {
      throw new IllegalArgumentException("input channels must be 1 or 3, got " + channels);
    }
    if (height < 1 || width < 1) {
      throw new IllegalArgumentException("input height and width must be positive");
    }
    if (!(pixelMax > pixelMin)) {
      throw new IllegalArgumentException("pixel range must have max > min");
    }
    if (mean.length != channels || std.length != channels) {
      throw new IllegalArgumentException("mean and std need one value per channel (" + channels + ")");
    }
    for (float s : std) {
      if (!(s > 0)) {
        throw new IllegalArgumentException("std values must be positive");
      }
    }
    if (preprocessing == null) {
      throw new IllegalArgumentException("preprocessing must be set (Preprocessing.DEFAULT)");
    }
    preprocessing.checkFits(height, width);
    mean = mean.clone();
    std = std.clone();
  }

  /** A spec with {@link Preprocessing#DEFAULT}. */
  public InputSpec(
      int channels, int height, int width, float pixelMin, float pixelMax, float[] mean,
      float[] std) {
    this(channels, height, width, pixelMin, pixelMax, mean, std, Preprocessing.DEFAULT);
  }

  /** This spec with {@code preprocessing} instead of its own. */
  public InputSpec withPreprocessing(Preprocessing preprocessing) {
    return new InputSpec(channels, height, width, pixelMin, pixelMax, mean, std, preprocessing);
  }

  /** Number of floats in one image: C * H * W. */
  public int size() {
    return channels * height * width;
  }

  /** An image of uniformly random pixels in {@code [pixelMin, pixelMax]}, before normalisation. */
  public float[] randomImage(Random random) {
    float[] image = new float[size()];
    for (int k = 0; k < image.length; k++) {
      image[k] = pixelMin + random.nextFloat() * (pixelMax - pixelMin);
    }
    return image;
  }

  /** Shape [C, H, W]. */
  public long[] shape() {
    return new long[] {channels, height, width};
  }

  @Override
  public float[] mean() {
    return mean.clone();
  }

  @Override
  public float[] std() {
    return std.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof InputSpec s
        && channels == s.channels
        && height == s.height
        && width == s.width
        && pixelMin == s.pixelMin
        && pixelMax == s.pixelMax
        && Arrays.equals(mean, s.mean)
        && Arrays.equals(std, s.std)
        && preprocessing.equals(s.preprocessing);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(new float[] {channels, height, width, pixelMin, pixelMax})
        + 31 * Arrays.hashCode(mean)
        + 961 * Arrays.hashCode(std)
        + 29791 * preprocessing.hashCode();
  }

  @Override
  public String toString() {
    return channels + "x" + height + "x" + width + " in [" + pixelMin + ", " + pixelMax + "]";
  }
}
