package dev.salient.server.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * A Gaussian low-pass filter on the engine: a depthwise convolution of each channel with a
 * normalised 2-D Gaussian of standard deviation sigma, truncated at 3 sigma.
 *
 * <p>Borders use normalised convolution: the result is divided by the blur of an all-ones image,
 * so every output pixel is a weighted mean of the pixels inside the image. A constant image stays
 * exactly constant (zero padding would darken the borders) and values stay in the input's range.
 */
final class GaussianBlur {
  private GaussianBlur() {}

  /** The 1-D kernel (odd length 2 * ceil(3 sigma) + 1, sums to 1). */
  static float[] kernel1d(float sigma) {
    int radius = Math.max(1, (int) Math.ceil(3 * sigma));
    float[] k = new float[2 * radius + 1];
    double sum = 0;
    for (int i = -radius; i <= radius; i++) {
      double v = Math.exp(-(i * (double) i) / (2.0 * sigma * sigma));
      k[i + radius] = (float) v;
      sum += v;
    }
    for (int i = 0; i < k.length; i++) {
      k[i] = (float) (k[i] / sum);
    }
    return k;
  }

  /** Blurs {@code x} (N, C, H, W); the result lives in {@code x}'s manager. */
  static NDArray apply(NDArray x, float sigma) {
    Shape shape = x.getShape();
    int channels = (int) shape.get(1);
    float[] k1 = kernel1d(sigma);
    int size = k1.length;
    float[] k2 = new float[channels * size * size];
    for (int c = 0; c < channels; c++) {
      for (int i = 0; i < size; i++) {
        for (int j = 0; j < size; j++) {
          k2[c * size * size + i * size + j] = k1[i] * k1[j];
        }
      }
    }
    NDManager m = x.getManager();
    NDArray kernel = m.create(k2, new Shape(channels, 1, size, size));
    Shape stride = new Shape(1, 1);
    Shape pad = new Shape(size / 2, size / 2);
    Shape dilation = new Shape(1, 1);
    NDArray sum = Conv2d.conv2d(x, kernel, null, stride, pad, dilation, channels).singletonOrThrow();
    NDArray ones = m.ones(new Shape(1, channels, shape.get(2), shape.get(3)));
    NDArray weight =
        Conv2d.conv2d(ones, kernel, null, stride, pad, dilation, channels).singletonOrThrow();
    return sum.div(weight);
  }
}
