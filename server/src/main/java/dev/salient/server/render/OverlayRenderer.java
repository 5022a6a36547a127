package dev.salient.server.render;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.util.SalientException.InvalidArgument;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * Renders explanation heatmaps as RGB PNGs, alone or blended over the model's input image.
 *
 * <p>The map is divided by its largest |value| (non-finite values count as 0; an all-zero map stays
 * zero) and shown as sign(t) |t|^{@link #GAMMA}, coloured with a {@link ColourScale}, and blended
 * with that as its opacity, so the most important pixel shows the pure colour and unimportant
 * pixels show the image. The gamma keeps sparse maps visible: where a few pixels dominate, the
 * rest would otherwise be a faint tint (a pixel at a quarter of the max shows at half). The web
 * viewer draws maps the same way (server/src/main/resources/web/viewer.js). Output is enlarged
 * by a whole factor, nearest neighbour, until its short side is at least {@link #MIN_SHORT_SIDE}
 * pixels, so a 28x28 input becomes 224x224 with crisp pixels.
 */
public final class OverlayRenderer {

  /** The exponent applied to |value| / max before colouring and blending. */
  public static final double GAMMA = 0.5;

  /** Output is enlarged by a whole factor until its short side is at least this many pixels. */
  public static final int MIN_SHORT_SIDE = 224;

  /** The enlargement factor never makes the long side exceed this (it stays at least 1). */
  public static final int MAX_LONG_SIDE = 4096;

  private OverlayRenderer() {}

  /** The input image (grey or colour) with the heatmap blended over it, as a PNG. */
  public static byte[] overlayPng(
      float[] imageChw,
      InputSpec spec,
      float[] map,
      int mapHeight,
      int mapWidth,
      ColourScale scale) {
    return encode(overlay(imageChw, spec, map, mapHeight, mapWidth, scale).image());
  }

  /**
   * An overlay before encoding: the enlarged picture, and the largest |value| of the map, which
   * its colours are relative to (0 for an all-zero map).
   */
  record Overlay(BufferedImage image, float max) {}

  /** What {@link #overlayPng(float[], InputSpec, FloatTensor, ColourScale)} encodes. */
  static Overlay overlay(float[] imageChw, InputSpec spec, FloatTensor map, ColourScale scale) {
    long[] shape = map.shape();
    int h = (int) shape[shape.length - 2];
    int w = (int) shape[shape.length - 1];
    return overlay(imageChw, spec, plane(map), h, w, scale);
  }

  private static Overlay overlay(
      float[] imageChw,
      InputSpec spec,
      float[] map,
      int mapHeight,
      int mapWidth,
      ColourScale scale) {
    Objects.requireNonNull(scale, "scale");
    if (imageChw == null || imageChw.length != spec.size()) {
      throw new InvalidArgument(
          "image has "
              + (imageChw == null ? 0 : imageChw.length)
              + " values but the model's input "
              + spec
              + " needs "
              + spec.size());
    }
    int h = spec.height();
    int w = spec.width();
    int plane = h * w;
    float[] t = resize(finite(map, mapHeight, mapWidth), mapHeight, mapWidth, h, w);
    float max = maxAbs(t);
    normalise(t, max);
    double min = spec.pixelMin();
    double toByte = 255.0 / ((double) spec.pixelMax() - min);
    int[] rgb = new int[plane];
    for (int i = 0; i < plane; i++) {
      float alpha = Math.abs(t[i]);
      int colour = scale.rgb(t[i]);
      int pixel = 0;
      for (int c = 0; c < 3; c++) {
        int shift = 16 - 8 * c;
        double base =
            clampByte((imageChw[(spec.channels() == 1 ? 0 : c) * plane + i] - min) * toByte);
        double over = (colour >> shift) & 0xff;
        pixel |= (int) clampByte(Math.rint(base + (over - base) * alpha)) << shift;
      }
      rgb[i] = pixel;
    }
    return new Overlay(enlarged(rgb, h, w), max);
  }

  /**
   * The input image with {@code map} blended over it, as a PNG; a per-channel map [C, H, W] is
   * shown as its channel mean, so each map is one picture.
   */
  public static byte[] overlayPng(float[] imageChw, InputSpec spec, FloatTensor map,
      ColourScale scale) {
    return encode(overlay(imageChw, spec, map, scale).image());
  }

  /** The map as one plane: [H, W] as it is, [C, H, W] as its channel mean. */
  private static float[] plane(FloatTensor map) {
    long[] shape = map.shape();
    int h = (int) shape[shape.length - 2];
    int w = (int) shape[shape.length - 1];
    float[] data = map.data();
    if (shape.length == 3) {
      int channels = (int) shape[0];
      float[] mean = new float[h * w];
      for (int c = 0; c < channels; c++) {
        for (int p = 0; p < h * w; p++) {
          mean[p] += data[c * h * w + p] / channels;
        }
      }
      data = mean;
    }
    return data;
  }

  /** The heatmap alone, coloured and enlarged the same way as in {@link #overlayPng}, as a PNG. */
  public static byte[] heatmapPng(float[] map, int h, int w, ColourScale scale) {
    Objects.requireNonNull(scale, "scale");
    float[] t = finite(map, h, w);
    normalise(t, maxAbs(t));
    int[] rgb = new int[t.length];
    for (int i = 0; i < t.length; i++) {
      rgb[i] = scale.rgb(t[i]);
    }
    return encode(enlarged(rgb, h, w));
  }

  /** A copy of the map with NaN and infinities set to 0, after checking its size. */
  private static float[] finite(float[] map, int h, int w) {
    if (h < 1 || w < 1) {
      throw new InvalidArgument("heatmap shape " + h + "x" + w + " must be at least 1x1");
    }
    long needed = (long) h * w;
    if (map == null || map.length != needed) {
      throw new InvalidArgument(
          "heatmap has "
              + (map == null ? 0 : map.length)
              + " values but its shape "
              + h
              + "x"
              + w
              + " needs "
              + needed);
    }
    float[] out = new float[map.length];
    for (int i = 0; i < map.length; i++) {
      out[i] = Float.isFinite(map[i]) ? map[i] : 0f;
    }
    return out;
  }

  private static float maxAbs(float[] map) {
    float max = 0f;
    for (float v : map) {
      max = Math.max(max, Math.abs(v));
    }
    return max;
  }

  /**
   * Divides by {@code max} (the largest |value|) and applies {@link #GAMMA} to the magnitude, in
   * place, giving [-1, 1]; an all-zero map (max 0) is left unchanged.
   */
  private static void normalise(float[] map, float max) {
    if (max > 0) {
      for (int i = 0; i < map.length; i++) {
        map[i] = gamma(map[i] / max);
      }
    }
  }

  /** sign(t) |t|^{@link #GAMMA}: where a value t (relative to the max) falls on the colour scale. */
  static float gamma(double t) {
    return (float) (Math.signum(t) * Math.pow(Math.abs(t), GAMMA));
  }

  /** Bilinear resampling with pixel centres aligned and edges repeated. */
  private static float[] resize(float[] map, int h, int w, int outH, int outW) {
    if (h == outH && w == outW) {
      return map;
    }
    int[] x0 = new int[outW];
    int[] x1 = new int[outW];
    float[] fx = new float[outW];
    for (int x = 0; x < outW; x++) {
      double sx = Math.max(0, Math.min(w - 1, (x + 0.5) * w / outW - 0.5));
      x0[x] = (int) sx;
      x1[x] = Math.min(x0[x] + 1, w - 1);
      fx[x] = (float) (sx - x0[x]);
    }
    float[] out = new float[outH * outW];
    for (int y = 0; y < outH; y++) {
      double sy = Math.max(0, Math.min(h - 1, (y + 0.5) * h / outH - 0.5));
      int y0 = (int) sy;
      int y1 = Math.min(y0 + 1, h - 1);
      float fy = (float) (sy - y0);
      for (int x = 0; x < outW; x++) {
        float top = map[y0 * w + x0[x]] + (map[y0 * w + x1[x]] - map[y0 * w + x0[x]]) * fx[x];
        float bottom = map[y1 * w + x0[x]] + (map[y1 * w + x1[x]] - map[y1 * w + x0[x]]) * fx[x];
        out[y * outW + x] = top + (bottom - top) * fy;
      }
    }
    return out;
  }

  private static double clampByte(double v) {
    // NaN fails the comparison and becomes 0.
    return v > 0 ? Math.min(v, 255) : 0;
  }

  /** Whole enlargement factor: the short side reaches MIN_SHORT_SIDE unless the long one is big. */
  private static int factor(int h, int w) {
    int wanted = (MIN_SHORT_SIDE + Math.min(h, w) - 1) / Math.min(h, w);
    return Math.max(1, Math.min(wanted, MAX_LONG_SIDE / Math.max(h, w)));
  }

  /** 0xRRGGBB pixels enlarged by {@link #factor}, nearest neighbour. */
  private static BufferedImage enlarged(int[] rgb, int h, int w) {
    int k = factor(h, w);
    int outW = w * k;
    int[] big = new int[outW * h * k];
    for (int y = 0; y < h * k; y++) {
      int src = (y / k) * w;
      int dst = y * outW;
      for (int x = 0; x < outW; x++) {
        big[dst + x] = rgb[src + x / k];
      }
    }
    BufferedImage image = new BufferedImage(outW, h * k, BufferedImage.TYPE_INT_RGB);
    image.getRaster().setDataElements(0, 0, outW, h * k, big);
    return image;
  }

  /** The image as PNG bytes. */
  static byte[] encode(BufferedImage image) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(image, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException("writing a PNG to memory failed", e);
    }
    return out.toByteArray();
  }
}
