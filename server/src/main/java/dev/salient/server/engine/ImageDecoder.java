package dev.salient.server.engine;

import dev.salient.server.util.SalientException.InvalidArgument;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Turns what a client sends (an encoded image file or a raw float tensor) into model input: CHW
 * floats in the model's pixel range, before normalisation.
 *
 * <p>Encoded images of any size are stretched to the model's height and width (no crop, so nothing
 * the client sent is cut off): area averaging on an axis that shrinks, bilinear interpolation on
 * one that grows. Sample values are used as stored in the file (no gamma or ICC conversion), the
 * way PIL and torchvision read training data.
 */
public final class ImageDecoder {

  /** Largest image accepted, in pixels (width times height): 40 megapixels. */
  public static final long MAX_PIXELS = 40_000_000L;

  /** Level, from 0 (black) to 1 (white), that transparent pixels are composited over: black. */
  public static final float ALPHA_BACKGROUND = 0f;

  private static final Set<String> FORMATS = Set.of("png", "jpeg", "jpg", "bmp", "gif");
  private static final String FORMATS_TEXT = "PNG, JPEG, BMP or GIF";

  private ImageDecoder() {}

  /** Decodes a PNG, JPEG, BMP or GIF file's bytes to CHW floats matching {@code spec}. */
  public static float[] decode(byte[] encoded, InputSpec spec) {
    if (encoded == null || encoded.length == 0) {
      throw new InvalidArgument(
          "image bytes are empty: send a PNG or JPEG file's bytes in Image.encoded");
    }
    return resample(read(encoded, spec), spec);
  }

  /** Checks a raw float32 tensor, [C, H, W] or [1, C, H, W], against the spec; returns it. */
  public static float[] fromTensor(long[] shape, byte[] littleEndianFloat32, InputSpec spec) {
    String expected =
        Arrays.toString(spec.shape())
            + ": send [C, H, W] = "
            + Arrays.toString(spec.shape())
            + " with values in "
            + range(spec);
    if (shape == null || shape.length == 0) {
      throw new InvalidArgument("tensor shape is missing; the model's input is " + expected);
    }
    long[] chw = shape.length == 4 && shape[0] == 1 ? Arrays.copyOfRange(shape, 1, 4) : shape;
    if (!Arrays.equals(chw, spec.shape())) {
      throw new InvalidArgument(
          "tensor shape "
              + Arrays.toString(shape)
              + " does not match the model's input "
              + expected);
    }
    int n = spec.size();
    int got = littleEndianFloat32 == null ? 0 : littleEndianFloat32.length;
    if (got != 4L * n) {
      throw new InvalidArgument(
          "tensor data has "
              + got
              + " bytes but shape "
              + Arrays.toString(shape)
              + " needs "
              + 4L * n
              + " (C*H*W = "
              + n
              + " float32 values, 4 bytes each, little-endian)");
    }
    float[] values = new float[n];
    FloatBuffer floats =
        ByteBuffer.wrap(littleEndianFloat32).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    floats.get(values);
    for (int i = 0; i < n; i++) {
      float v = values[i];
      if (!Float.isFinite(v)) {
        throw new InvalidArgument(
            "tensor value at index "
                + i
                + " "
                + position(i, spec)
                + " is "
                + v
                + ": send finite float32 values in "
                + range(spec));
      }
      if (v < spec.pixelMin() || v > spec.pixelMax()) {
        throw new InvalidArgument(
            "tensor value "
                + v
                + " at index "
                + i
                + " "
                + position(i, spec)
                + " is outside the model's pixel range "
                + range(spec)
                + ": scale pixels into that range (the server applies mean/std itself)");
      }
    }
    return values;
  }

  /** Encodes CHW floats in {@code spec}'s pixel range as an 8-bit grey or RGB PNG. */
  public static byte[] toPng(float[] chw, InputSpec spec) {
    if (chw == null || chw.length != spec.size()) {
      throw new InvalidArgument(
          "image has "
              + (chw == null ? 0 : chw.length)
              + " values but the model's input "
              + Arrays.toString(spec.shape())
              + " needs "
              + spec.size());
    }
    int h = spec.height();
    int w = spec.width();
    int plane = h * w;
    int type = spec.channels() == 1 ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_3BYTE_BGR;
    BufferedImage image = new BufferedImage(w, h, type);
    WritableRaster raster = image.getRaster();
    int[] samples = new int[plane];
    double scale = 255.0 / ((double) spec.pixelMax() - spec.pixelMin());
    for (int c = 0; c < spec.channels(); c++) {
      for (int i = 0; i < plane; i++) {
        double v = Math.rint((chw[c * plane + i] - (double) spec.pixelMin()) * scale);
        // NaN fails both comparisons and becomes 0.
        samples[i] = v >= 0 ? (int) Math.min(v, 255) : 0;
      }
      raster.setSamples(0, 0, w, h, c, samples);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(image, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException("writing a PNG to memory failed", e);
    }
    return out.toByteArray();
  }

  private static BufferedImage read(byte[] encoded, InputSpec spec) {
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      ImageReader reader = findReader(in, encoded);
      try {
        reader.setInput(in, true, true);
        String format = reader.getFormatName().toUpperCase(Locale.ROOT);
        checkDimensions(reader, format, spec);
        boolean[] truncated = {false};
        // The JPEG decoder reports a cut-off file as a warning and fills the rest with grey.
        reader.addIIOReadWarningListener(
            (source, warning) -> {
              if (warning != null && warning.toLowerCase(Locale.ROOT).contains("premature end")) {
                truncated[0] = true;
              }
            });
        BufferedImage image = readPixels(reader, format);
        if (truncated[0]) {
          throw new InvalidArgument(
              "image data ends early (truncated " + format + "): send the complete file");
        }
        return image;
      } finally {
        reader.dispose();
      }
    } catch (IOException e) {
      throw new InvalidArgument("image bytes could not be read: " + detail(e), e);
    }
  }

  private static ImageReader findReader(ImageInputStream in, byte[] encoded) throws IOException {
    String other = null;
    for (Iterator<ImageReader> it = ImageIO.getImageReaders(in); it.hasNext(); ) {
      ImageReader reader = it.next();
      String format = reader.getFormatName().toLowerCase(Locale.ROOT);
      if (FORMATS.contains(format)) {
        return reader;
      }
      // WBMP has no signature, so its reader claims many non-images; naming it would mislead.
      if (other == null && !format.equals("wbmp")) {
        other = format.toUpperCase(Locale.ROOT);
      }
      reader.dispose();
    }
    if (other != null) {
      throw new InvalidArgument(
          "image format " + other + " is not supported: send a " + FORMATS_TEXT + " file");
    }
    StringBuilder first = new StringBuilder();
    for (int i = 0; i < Math.min(4, encoded.length); i++) {
      first.append(i == 0 ? "" : " ").append(String.format("0x%02x", encoded[i] & 0xff));
    }
    throw new InvalidArgument(
        "image bytes are not a readable "
            + FORMATS_TEXT
            + " (first bytes: "
            + first
            + "): send the file's bytes unchanged, not base64 or a path");
  }

  /** Reads only the header, so a decompression bomb is refused before any pixel is allocated. */
  private static void checkDimensions(ImageReader reader, String format, InputSpec spec) {
    int width;
    int height;
    try {
      width = reader.getWidth(0);
      height = reader.getHeight(0);
    } catch (IOException | RuntimeException e) {
      throw new InvalidArgument(
          "image header is damaged or truncated ("
              + format
              + ": "
              + detail(e)
              + "): send a complete, valid file",
          e);
    }
    if (width < 1 || height < 1) {
      throw new InvalidArgument(
          "image is " + width + "x" + height + " pixels: send an image with at least one pixel");
    }
    long pixels = (long) width * height;
    if (pixels > MAX_PIXELS) {
      throw new InvalidArgument(
          String.format(
              Locale.ROOT,
              "image is %dx%d pixels (%.1f megapixels), over the limit of %d megapixels: "
                  + "downscale it before sending (the model uses %dx%d)",
              width,
              height,
              pixels / 1e6,
              MAX_PIXELS / 1_000_000,
              spec.width(),
              spec.height()));
    }
  }

  private static BufferedImage readPixels(ImageReader reader, String format) {
    try {
      return reader.read(0);
    } catch (IOException | RuntimeException e) {
      // Decoders throw assorted unchecked exceptions (index, argument, state) on corrupt data.
      throw new InvalidArgument(
          "image data is damaged or truncated ("
              + format
              + ": "
              + detail(e)
              + "): send the complete, unmodified file",
          e);
    }
  }

  /** Composites, converts channels and resizes in one pass over the source rows. */
  private static float[] resample(BufferedImage image, InputSpec spec) {
    int srcW = image.getWidth();
    int srcH = image.getHeight();
    int outW = spec.width();
    int outH = spec.height();
    int channels = spec.channels();
    RowSource source = RowSource.of(image);
    Kernel kx = Kernel.of(srcW, outW);
    Kernel ky = Kernel.of(srcH, outH);
    float[][] colour = new float[source.colours][srcW];
    float[] alpha = new float[srcW];
    float[][] row = new float[channels][srcW];
    float[][] narrow = new float[channels][outW];
    float[] acc = new float[channels * outH * outW];
    int firstOpen = 0;
    for (int y = 0; y < srcH; y++) {
      source.read(y, colour, alpha);
      toModelChannels(colour, source.hasAlpha ? alpha : null, row);
      for (int c = 0; c < channels; c++) {
        kx.apply(row[c], narrow[c]);
      }
      while (firstOpen < outH && ky.end(firstOpen) <= y) {
        firstOpen++;
      }
      for (int j = firstOpen; j < outH && ky.start[j] <= y; j++) {
        float wy = ky.weight(j, y);
        if (wy == 0) {
          continue;
        }
        for (int c = 0; c < channels; c++) {
          int base = (c * outH + j) * outW;
          float[] src = narrow[c];
          for (int x = 0; x < outW; x++) {
            acc[base + x] += wy * src[x];
          }
        }
      }
    }
    double min = spec.pixelMin();
    double span = (double) spec.pixelMax() - min;
    for (int i = 0; i < acc.length; i++) {
      // Weights sum to 1 only up to rounding; clamp so the result never leaves the range.
      double v = Math.min(1.0, Math.max(0.0, acc[i]));
      acc[i] = (float) (min + v * span);
    }
    return acc;
  }

  /** Source colour (1 or 3 components) and alpha in [0, 1] to the model's channels. */
  private static void toModelChannels(float[][] colour, float[] alpha, float[][] out) {
    int n = out[0].length;
    if (out.length == 1) {
      if (colour.length == 1) {
        System.arraycopy(colour[0], 0, out[0], 0, n);
      } else {
        float[] r = colour[0];
        float[] g = colour[1];
        float[] b = colour[2];
        for (int x = 0; x < n; x++) {
          out[0][x] =
              r[x] == g[x] && g[x] == b[x]
                  ? r[x]
                  : (float) (0.299 * r[x] + 0.587 * g[x] + 0.114 * b[x]);
        }
      }
    } else {
      for (int c = 0; c < 3; c++) {
        System.arraycopy(colour[colour.length == 1 ? 0 : c], 0, out[c], 0, n);
      }
    }
    if (alpha != null) {
      // Over black because Fashion-MNIST-style data is light objects on black: a transparent
      // background then looks like training data rather than a white frame the model never saw.
      for (float[] channel : out) {
        for (int x = 0; x < n; x++) {
          channel[x] = channel[x] * alpha[x] + ALPHA_BACKGROUND * (1 - alpha[x]);
        }
      }
    }
  }

  /** The decoder's own words, which often lack a message (BMP) or hide it in the cause (PNG). */
  private static String detail(Throwable e) {
    String text = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    Throwable cause = e.getCause();
    if (cause != null && cause.getMessage() != null && !text.contains(cause.getMessage())) {
      text += ": " + cause.getMessage();
    }
    return text;
  }

  private static String range(InputSpec spec) {
    return "[" + spec.pixelMin() + ", " + spec.pixelMax() + "]";
  }

  private static String position(int index, InputSpec spec) {
    int plane = spec.height() * spec.width();
    int rest = index % plane;
    return "(c="
        + index / plane
        + ", y="
        + rest / spec.width()
        + ", x="
        + rest % spec.width()
        + ")";
  }

  /** Reads one row of a decoded image as colour components and alpha, each in [0, 1]. */
  private abstract static class RowSource {
    final int colours;
    final boolean hasAlpha;

    RowSource(int colours, boolean hasAlpha) {
      this.colours = colours;
      this.hasAlpha = hasAlpha;
    }

    abstract void read(int y, float[][] colour, float[] alpha);

    static RowSource of(BufferedImage image) {
      ColorModel model = image.getColorModel();
      if (model.isAlphaPremultiplied()) {
        image.coerceData(false);
        model = image.getColorModel();
      }
      if (model instanceof IndexColorModel palette) {
        return new PaletteRows(image.getRaster(), palette);
      }
      int type = model.getColorSpace().getType();
      int transfer = model.getTransferType();
      if (model instanceof ComponentColorModel
          && (type == ColorSpace.TYPE_GRAY || type == ColorSpace.TYPE_RGB)
          && (transfer == DataBuffer.TYPE_BYTE || transfer == DataBuffer.TYPE_USHORT)) {
        return new SampleRows(image.getRaster(), model);
      }
      return new ArgbRows(image);
    }
  }

  /**
   * Raw samples of grey or RGB images, 8 or 16 bits; avoids the JDK's colour conversion, which
   * treats grey samples as linear light and brightens them.
   */
  private static final class SampleRows extends RowSource {
    private final Raster raster;
    private final int bands;
    private final double[] scale;
    private final int[] buffer;

    SampleRows(Raster raster, ColorModel model) {
      super(model.getNumColorComponents(), model.hasAlpha());
      this.raster = raster;
      this.bands = raster.getNumBands();
      this.scale = new double[bands];
      for (int b = 0; b < bands; b++) {
        scale[b] = 1.0 / ((1L << model.getComponentSize(b)) - 1);
      }
      this.buffer = new int[raster.getWidth() * bands];
    }

    @Override
    void read(int y, float[][] colour, float[] alpha) {
      int w = raster.getWidth();
      raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, buffer);
      for (int x = 0; x < w; x++) {
        int p = x * bands;
        for (int c = 0; c < colours; c++) {
          colour[c][x] = (float) (buffer[p + c] * scale[c]);
        }
        if (hasAlpha) {
          alpha[x] = (float) (buffer[p + colours] * scale[colours]);
        }
      }
    }
  }

  /** Palette images (GIF, palette PNG, low-bit grey): colours looked up in the palette. */
  private static final class PaletteRows extends RowSource {
    private final Raster raster;
    private final IndexColorModel palette;
    private final int[] buffer;

    PaletteRows(Raster raster, IndexColorModel palette) {
      super(3, palette.hasAlpha());
      this.raster = raster;
      this.palette = palette;
      this.buffer = new int[raster.getWidth()];
    }

    @Override
    void read(int y, float[][] colour, float[] alpha) {
      int w = raster.getWidth();
      raster.getSamples(raster.getMinX(), raster.getMinY() + y, w, 1, 0, buffer);
      for (int x = 0; x < w; x++) {
        int argb = palette.getRGB(buffer[x]);
        colour[0][x] = ((argb >> 16) & 0xff) / 255f;
        colour[1][x] = ((argb >> 8) & 0xff) / 255f;
        colour[2][x] = (argb & 0xff) / 255f;
        alpha[x] = (argb >>> 24) / 255f;
      }
    }
  }

  /** Anything else (packed BMP pixels, other colour spaces), converted to sRGB by the JDK. */
  private static final class ArgbRows extends RowSource {
    private final BufferedImage image;
    private final int[] buffer;

    ArgbRows(BufferedImage image) {
      super(3, image.getColorModel().hasAlpha());
      this.image = image;
      this.buffer = new int[image.getWidth()];
    }

    @Override
    void read(int y, float[][] colour, float[] alpha) {
      int w = image.getWidth();
      image.getRGB(0, y, w, 1, buffer, 0, w);
      for (int x = 0; x < w; x++) {
        int argb = buffer[x];
        colour[0][x] = ((argb >> 16) & 0xff) / 255f;
        colour[1][x] = ((argb >> 8) & 0xff) / 255f;
        colour[2][x] = (argb & 0xff) / 255f;
        alpha[x] = (argb >>> 24) / 255f;
      }
    }
  }

  /**
   * One-axis resampling weights: output {@code j} is the weighted sum of inputs {@code start[j]}
   * onwards. Area averaging when shrinking, bilinear (pixel centres aligned) when growing.
   */
  private static final class Kernel {
    final int[] start;
    final float[][] weights;

    private Kernel(int[] start, float[][] weights) {
      this.start = start;
      this.weights = weights;
    }

    static Kernel of(int src, int dst) {
      int[] start = new int[dst];
      float[][] weights = new float[dst][];
      double ratio = (double) src / dst;
      for (int j = 0; j < dst; j++) {
        if (src == dst) {
          start[j] = j;
          weights[j] = new float[] {1f};
        } else if (src > dst) {
          double lo = j * ratio;
          double hi = Math.min(src, (j + 1) * ratio);
          int first = (int) Math.floor(lo);
          int end = Math.min(src, (int) Math.ceil(hi));
          start[j] = first;
          weights[j] = new float[end - first];
          for (int i = first; i < end; i++) {
            weights[j][i - first] = (float) ((Math.min(i + 1, hi) - Math.max(i, lo)) / ratio);
          }
        } else {
          double centre = (j + 0.5) * ratio - 0.5;
          if (centre <= 0) {
            start[j] = 0;
            weights[j] = new float[] {1f};
          } else if (centre >= src - 1) {
            start[j] = src - 1;
            weights[j] = new float[] {1f};
          } else {
            int i = (int) Math.floor(centre);
            float f = (float) (centre - i);
            start[j] = i;
            weights[j] = new float[] {1 - f, f};
          }
        }
      }
      return new Kernel(start, weights);
    }

    int end(int j) {
      return start[j] + weights[j].length;
    }

    float weight(int j, int i) {
      int k = i - start[j];
      return k >= 0 && k < weights[j].length ? weights[j][k] : 0f;
    }

    void apply(float[] in, float[] out) {
      for (int j = 0; j < out.length; j++) {
        float[] w = weights[j];
        int s = start[j];
        float sum = 0;
        for (int k = 0; k < w.length; k++) {
          sum += w[k] * in[s + k];
        }
        out[j] = sum;
      }
    }
  }
}
