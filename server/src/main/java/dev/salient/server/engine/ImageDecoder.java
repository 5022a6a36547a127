package dev.salient.server.engine;

import dev.salient.server.util.SalientException.CapacityExceeded;
import dev.salient.server.util.SalientException.InvalidArgument;
import java.awt.color.ColorSpace;
import java.awt.color.ICC_ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.awt.image.ColorConvertOp;
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
import java.util.zip.InflaterInputStream;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.w3c.dom.Node;

/**
 * Turns what a client sends (an encoded image file or a raw float tensor) into model input: CHW
 * floats in the model's pixel range, before normalisation.
 *
 * <p>An encoded image goes through these steps, following the model's {@link Preprocessing}
 * (docs/models.md, "What happens to an image"):
 *
 * <ol>
 *   <li>Decoded (PNG, JPEG, BMP or GIF; at most {@link DecodeBudget#maxPixels()}, by default
 *       {@link #MAX_PIXELS}). With colour management
 *       "none" the samples are taken as stored, as PIL reads them: a JPEG's embedded ICC profile
 *       is not applied (the JDK's JPEG reader would convert to sRGB by default, so it is given a
 *       destination in the profile's own colour space). With "icc_to_srgb" the JDK converts from
 *       the embedded profile to sRGB. Grey samples are never gamma-converted.
 *   <li>Transparent pixels composited over black ({@link #ALPHA_BACKGROUND}).
 *   <li>Converted to the model's channels: grey replicated to RGB, or RGB to grey with PIL's
 *       integer luma ({@code convert("L")}: 0.299 R + 0.587 G + 0.114 B, rounded).
 *   <li>Resized with the filter as PIL's {@code Image.resize} does (antialiased when shrinking;
 *       8-bit images in PIL's fixed-point arithmetic, rounded to 8 bits after each pass, so the
 *       result equals PIL's), either stretched to the model's height and width or with the short
 *       side resized and the centre cropped, rounded as torchvision rounds. See {@link Resampler}.
 *   <li>Scaled linearly from [0, 255] (or [0, 65535] for 16-bit files) to [pixelMin, pixelMax].
 * </ol>
 *
 * <p>Mean/std normalisation is not done here: the engine applies it to every pass.
 */
public final class ImageDecoder {

  /**
   * Largest image accepted by default, in pixels (width times height): 40 megapixels; {@code
   * salient.limits.max-pixels} ({@link DecodeBudget#MAX_PIXELS_KEY}) sets the server's.
   */
  public static final long MAX_PIXELS = DecodeBudget.DEFAULT_MAX_PIXELS;

  /** Level, from 0 (black) to 1 (white), that transparent pixels are composited over: black. */
  public static final float ALPHA_BACKGROUND = 0f;

  private static final Set<String> FORMATS = Set.of("png", "jpeg", "jpg", "bmp", "gif");
  private static final String FORMATS_TEXT = "PNG, JPEG, BMP or GIF";

  private ImageDecoder() {}

  /** Decodes a PNG, JPEG, BMP or GIF file's bytes to CHW floats matching {@code spec}. */
  public static float[] decode(byte[] encoded, InputSpec spec) {
    return decode(encoded, spec, DecodeBudget.unlimited());
  }

  /**
   * Decodes as {@link #decode(byte[], InputSpec)} does, holding the decoded image's bytes of
   * {@code budget} (read from the header, before any pixel is allocated) until it is resampled.
   *
   * @throws dev.salient.server.util.SalientException.CapacityExceeded when the budget refuses it
   * @throws OutOfMemoryError when the heap runs out, also where the JDK's reader wraps it
   */
  public static float[] decode(byte[] encoded, InputSpec spec, DecodeBudget budget) {
    if (encoded == null || encoded.length == 0) {
      throw new InvalidArgument(
          "image bytes are empty: send a PNG or JPEG file's bytes in Image.encoded");
    }
    return read(encoded, spec, budget);
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

  private static float[] read(byte[] encoded, InputSpec spec, DecodeBudget budget) {
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      ImageReader reader = findReader(in, encoded);
      try {
        // Metadata is skipped unless it may hold an ICC profile to apply (a PNG's iCCP chunk).
        boolean convertToSrgb =
            spec.preprocessing().colorManagement() == Preprocessing.ColorManagement.ICC_TO_SRGB;
        reader.setInput(in, true, !convertToSrgb);
        String format = reader.getFormatName().toUpperCase(Locale.ROOT);
        checkDimensions(reader, format, spec, budget.maxPixels());
        try (DecodeBudget.Reservation held =
            budget.reserve(decodedBytes(reader, convertToSrgb), describe(reader, format))) {
          return resample(readChecked(reader, format, spec, convertToSrgb), spec);
        }
      } finally {
        reader.dispose();
      }
    } catch (IOException e) {
      throw new InvalidArgument("image bytes could not be read: " + detail(e), e);
    }
  }

  /**
   * Bytes of the decoded image: width x height x data elements per pixel x bytes per element, as
   * the reader's default image type stores it (packed 1-bit images are counted at a byte per
   * pixel), plus a 4-byte-per-pixel copy when converting to sRGB.
   */
  static long decodedBytes(ImageReader reader, boolean convertToSrgb) throws IOException {
    long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
    long perPixel = 4;
    try {
      Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0);
      if (types != null && types.hasNext()) {
        var model = types.next().getSampleModel();
        perPixel = (long) model.getNumDataElements()
            * Math.max(1, DataBuffer.getDataTypeSize(model.getDataType()) / 8);
      }
    } catch (IOException | RuntimeException e) {
      // A file the reader cannot type is refused by the read itself; count the widest pixel.
    }
    return pixels * (perPixel + (convertToSrgb ? 4 : 0));
  }

  private static String describe(ImageReader reader, String format) throws IOException {
    return "this " + reader.getWidth(0) + "x" + reader.getHeight(0) + " " + format;
  }

  private static BufferedImage readChecked(ImageReader reader, String format, InputSpec spec,
      boolean convertToSrgb) throws IOException {
    boolean[] truncated = {false};
    // The JPEG decoder reports a cut-off file as a warning and fills the rest with grey.
    reader.addIIOReadWarningListener(
        (source, warning) -> {
          if (warning != null && warning.toLowerCase(Locale.ROOT).contains("premature end")) {
            truncated[0] = true;
          }
        });
    BufferedImage image =
        readPixels(reader, format, spec.preprocessing().colorManagement());
    if (truncated[0]) {
      throw new InvalidArgument(
          "image data ends early (truncated " + format + "): send the complete file");
    }
    if (convertToSrgb && format.equals("PNG")) {
      // The JDK's PNG reader ignores an iCCP chunk; the JPEG reader applies its profile.
      byte[] profile = pngProfile(reader);
      if (profile != null) {
        return toSrgb(image, profile);
      }
    }
    return image;
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
  private static void checkDimensions(ImageReader reader, String format, InputSpec spec,
      long maxPixels) {
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
    if (pixels > maxPixels) {
      throw new CapacityExceeded(
          String.format(
              Locale.ROOT,
              "image is %dx%d pixels (%s), over the server's limit of %s (%s):"
                  + " downscale it before sending (the model uses %dx%d), or raise %s",
              width,
              height,
              pixelCount(pixels),
              pixelCount(maxPixels),
              DecodeBudget.MAX_PIXELS_KEY,
              spec.width(),
              spec.height(),
              DecodeBudget.MAX_PIXELS_KEY));
    }
  }

  /** {@code pixels} in words: "40 megapixels", "100.2 megapixels", "700 pixels". */
  private static String pixelCount(long pixels) {
    if (pixels % 1_000_000 == 0) {
      return pixels / 1_000_000 + " megapixels";
    }
    return pixels >= 1_000_000
        ? String.format(Locale.ROOT, "%.1f megapixels", pixels / 1e6)
        : pixels + " pixels";
  }

  private static BufferedImage readPixels(
      ImageReader reader, String format, Preprocessing.ColorManagement colorManagement) {
    try {
      if (colorManagement == Preprocessing.ColorManagement.NONE) {
        ImageTypeSpecifier embedded = embeddedProfileType(reader);
        if (embedded != null) {
          // A destination in the profile's own colour space stops the JPEG reader converting.
          ImageReadParam param = reader.getDefaultReadParam();
          param.setDestination(
              embedded.createBufferedImage(reader.getWidth(0), reader.getHeight(0)));
          return reader.read(0, param);
        }
      }
      return reader.read(0);
    } catch (IOException | RuntimeException e) {
      rethrowOutOfMemory(e);
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

  /** The ICC profile of a PNG's iCCP chunk, inflated; null when the file has none. */
  private static byte[] pngProfile(ImageReader reader) throws IOException {
    IIOMetadata metadata = reader.getImageMetadata(0);
    Node root = metadata.getAsTree(metadata.getNativeMetadataFormatName());
    for (Node node = root.getFirstChild(); node != null; node = node.getNextSibling()) {
      if (node.getNodeName().equals("iCCP")
          && node instanceof IIOMetadataNode chunk
          && chunk.getUserObject() instanceof byte[] compressed) {
        try (InflaterInputStream in =
            new InflaterInputStream(new ByteArrayInputStream(compressed))) {
          return in.readAllBytes();
        } catch (IOException e) {
          throw new InvalidArgument("the PNG's ICC profile (iCCP chunk) cannot be inflated: "
              + detail(e) + ": send the file with a valid profile, or have the model use"
              + " \"color_management\": \"none\"", e);
        }
      }
    }
    return null;
  }

  /**
   * {@code image}, whose samples are in the colour space of {@code profile}, converted to 8-bit
   * sRGB by LittleCMS (through the JDK). Only RGB profiles on RGB images are applied; grey images
   * keep their samples.
   */
  private static BufferedImage toSrgb(BufferedImage image, byte[] profile) {
    ICC_ColorSpace space;
    try {
      space = new ICC_ColorSpace(ICC_Profile.getInstance(profile));
    } catch (IllegalArgumentException e) {
      throw new InvalidArgument("the image's embedded ICC profile is damaged ("
          + detail(e) + "): send the file with a valid profile, or have the model use"
          + " \"color_management\": \"none\"", e);
    }
    if (space.getType() != ColorSpace.TYPE_RGB
        || !(image.getColorModel() instanceof ComponentColorModel stored)
        || stored.getNumColorComponents() != 3) {
      return image;
    }
    ColorModel tagged = new ComponentColorModel(space, stored.hasAlpha(), false,
        stored.getTransparency(), stored.getTransferType());
    BufferedImage source = new BufferedImage(tagged, image.getRaster(), false, null);
    BufferedImage srgb = new BufferedImage(image.getWidth(), image.getHeight(),
        stored.hasAlpha() ? BufferedImage.TYPE_4BYTE_ABGR : BufferedImage.TYPE_3BYTE_BGR);
    new ColorConvertOp(null).filter(source, srgb);
    return srgb;
  }

  /**
   * The image type in the colour space of a profile embedded in the file, if the reader offers
   * one besides its default: the JPEG reader does, and by default converts from it to sRGB.
   */
  private static ImageTypeSpecifier embeddedProfileType(ImageReader reader) throws IOException {
    Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0);
    if (!types.hasNext()) {
      return null;
    }
    ColorModel standard = types.next().getColorModel();
    if (!standard.getColorSpace().isCS_sRGB()) {
      return null;
    }
    while (types.hasNext()) {
      ImageTypeSpecifier type = types.next();
      ColorSpace space = type.getColorModel().getColorSpace();
      if (space instanceof ICC_ColorSpace
          && space.getType() == ColorSpace.TYPE_RGB
          && !space.isCS_sRGB()
          && type.getNumComponents() == standard.getNumComponents()) {
        return type;
      }
    }
    return null;
  }

  /**
   * Composites alpha, converts channels, resizes and crops in one pass over the source rows: each
   * row is resampled horizontally (rounded to 8 bits for 8-bit images, as PIL does) and added into
   * every output row whose filter covers it, so memory stays at one source row plus the output.
   */
  private static float[] resample(BufferedImage image, InputSpec spec) {
    Preprocessing steps = spec.preprocessing();
    int srcW = image.getWidth();
    int srcH = image.getHeight();
    int outW = spec.width();
    int outH = spec.height();
    int channels = spec.channels();
    Geometry geometry = Geometry.of(srcW, srcH, spec);
    Resampler.Axis kx =
        Resampler.axis(steps.resize(), srcW, geometry.resizedWidth, geometry.left, outW);
    Resampler.Axis ky =
        Resampler.axis(steps.resize(), srcH, geometry.resizedHeight, geometry.top, outH);
    RowSource source =
        RowSource.of(image, steps.colorManagement() == Preprocessing.ColorManagement.ICC_TO_SRGB);
    boolean eightBit = source.maxValue == 255;
    int[][] colour = new int[source.colours][srcW];
    int[] alpha = new int[srcW];
    int[][] row = new int[channels][srcW];
    int[] narrow = new int[outW];
    double[] narrowDeep = new double[outW];
    int plane = outH * outW;
    int[] sums = new int[eightBit ? channels * plane : 0];
    double[] sumsDeep = new double[eightBit ? 0 : channels * plane];
    Arrays.fill(sums, Resampler.HALF);
    int firstOpen = 0;
    for (int y = ky.first[0]; y < ky.end(outH - 1); y++) {
      source.read(y, colour, alpha);
      toModelChannels(colour, source.hasAlpha ? alpha : null, source.maxValue, row);
      while (firstOpen < outH && ky.end(firstOpen) <= y) {
        firstOpen++;
      }
      for (int c = 0; c < channels; c++) {
        for (int x = 0; x < outW; x++) {
          if (eightBit) {
            narrow[x] = kx.apply8(row[c], x);
          } else {
            narrowDeep[x] = kx.apply(row[c], x);
          }
        }
        for (int j = firstOpen; j < outH && ky.first[j] <= y; j++) {
          int k = y - ky.first[j];
          if (k >= ky.weights[j].length) {
            continue;
          }
          int base = c * plane + j * outW;
          if (eightBit) {
            int weight = ky.fixed[j][k];
            for (int x = 0; x < outW; x++) {
              sums[base + x] += narrow[x] * weight;
            }
          } else {
            double weight = ky.weights[j][k];
            for (int x = 0; x < outW; x++) {
              sumsDeep[base + x] += narrowDeep[x] * weight;
            }
          }
        }
      }
    }
    float[] out = new float[channels * plane];
    double min = spec.pixelMin();
    double span = (double) spec.pixelMax() - min;
    for (int i = 0; i < out.length; i++) {
      // Deep images are not rounded between passes, so clamp what negative lobes push outside.
      double level = eightBit
          ? Resampler.clip8(sums[i]) / 255.0
          : Math.min(1.0, Math.max(0.0, sumsDeep[i] / source.maxValue));
      out[i] = (float) (min + level * span);
    }
    return out;
  }

  /**
   * Where the model's input lies in the resized image: the whole of it when stretching, or the
   * centre after resizing the short side, rounded exactly as torchvision's {@code resize} and
   * {@code center_crop} round (the long side truncated, the offsets rounded half to even).
   */
  record Geometry(int resizedWidth, int resizedHeight, int left, int top) {

    static Geometry of(int srcW, int srcH, InputSpec spec) {
      Preprocessing steps = spec.preprocessing();
      if (steps.crop() == Preprocessing.Crop.NONE) {
        return new Geometry(spec.width(), spec.height(), 0, 0);
      }
      int side = steps.resizeShortSide();
      long longSide = (long) ((double) ((long) side * Math.max(srcW, srcH)) / Math.min(srcW, srcH));
      if (longSide > MAX_PIXELS) {
        throw new InvalidArgument(String.format(Locale.ROOT,
            "image is %dx%d pixels: resizing its short side to %d (the model's"
                + " resize_short_side) makes the long side %d pixels, over the limit of %d:"
                + " crop the image closer to the model's aspect ratio (%dx%d) before sending",
            srcW, srcH, side, longSide, MAX_PIXELS, spec.width(), spec.height()));
      }
      int resizedW = srcW <= srcH ? side : (int) longSide;
      int resizedH = srcW <= srcH ? (int) longSide : side;
      // Python's round() rounds halves to even, as Math.rint does.
      int top = (int) Math.rint((resizedH - spec.height()) / 2.0);
      int left = (int) Math.rint((resizedW - spec.width()) / 2.0);
      return new Geometry(resizedW, resizedH, left, top);
    }
  }

  /**
   * Source colour (1 or 3 components) and alpha, integers up to {@code max}, to the model's
   * channels; grey from colour with PIL's integer luma (ITU-R 601-2, as {@code convert("L")}).
   */
  private static void toModelChannels(int[][] colour, int[] alpha, int max, int[][] out) {
    int n = out[0].length;
    if (out.length == 1) {
      if (colour.length == 1) {
        System.arraycopy(colour[0], 0, out[0], 0, n);
      } else {
        int[] r = colour[0];
        int[] g = colour[1];
        int[] b = colour[2];
        for (int x = 0; x < n; x++) {
          out[0][x] = (int) ((r[x] * 19595L + g[x] * 38470L + b[x] * 7471L + 0x8000) >> 16);
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
      long background = Math.round(ALPHA_BACKGROUND * max);
      for (int[] channel : out) {
        for (int x = 0; x < n; x++) {
          long a = alpha[x];
          channel[x] = (int) ((channel[x] * a + background * (max - a) + max / 2) / max);
        }
      }
    }
  }

  /**
   * Rethrows an OutOfMemoryError that a reader wrapped (the JDK's PNG reader turns every
   * Throwable into an IIOException), so that running out of heap is not reported as bad data.
   */
  private static void rethrowOutOfMemory(Throwable e) {
    for (Throwable cause = e; cause != null; cause = cause.getCause()) {
      if (cause instanceof OutOfMemoryError oom) {
        throw oom;
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

  /**
   * Reads one row of a decoded image as integer colour components and alpha, from 0 to {@code
   * maxValue}: 255 for 8-bit images (resampled as PIL resamples them), 65535 for deeper ones.
   */
  private abstract static class RowSource {
    final int colours;
    final boolean hasAlpha;
    final int maxValue;

    RowSource(int colours, boolean hasAlpha, int maxValue) {
      this.colours = colours;
      this.hasAlpha = hasAlpha;
      this.maxValue = maxValue;
    }

    abstract void read(int y, int[][] colour, int[] alpha);

    static RowSource of(BufferedImage image, boolean convertToSrgb) {
      ColorModel model = image.getColorModel();
      if (model.isAlphaPremultiplied()) {
        image.coerceData(false);
        model = image.getColorModel();
      }
      if (model instanceof IndexColorModel palette) {
        return new PaletteRows(image.getRaster(), palette);
      }
      ColorSpace space = model.getColorSpace();
      int type = space.getType();
      int transfer = model.getTransferType();
      boolean storedSamplesWanted = type == ColorSpace.TYPE_GRAY
          || (type == ColorSpace.TYPE_RGB && (space.isCS_sRGB() || !convertToSrgb));
      if (model instanceof ComponentColorModel
          && storedSamplesWanted
          && (transfer == DataBuffer.TYPE_BYTE || transfer == DataBuffer.TYPE_USHORT)) {
        return new SampleRows(image.getRaster(), model);
      }
      return new ArgbRows(image);
    }
  }

  /**
   * Stored samples of grey or RGB images, 8 or 16 bits, whatever colour space the colour model
   * names; avoids the JDK's colour conversion, which treats grey samples as linear light and
   * brightens them, and which would apply an ICC profile.
   */
  private static final class SampleRows extends RowSource {
    private final Raster raster;
    private final int bands;
    private final int[] bits;
    private final int[] buffer;

    SampleRows(Raster raster, ColorModel model) {
      super(model.getNumColorComponents(), model.hasAlpha(), maxValue(model));
      this.raster = raster;
      this.bands = raster.getNumBands();
      this.bits = new int[bands];
      for (int b = 0; b < bands; b++) {
        bits[b] = model.getComponentSize(b);
      }
      this.buffer = new int[raster.getWidth() * bands];
    }

    private static int maxValue(ColorModel model) {
      for (int size : model.getComponentSize()) {
        if (size != 8) {
          return 65535;
        }
      }
      return 255;
    }

    @Override
    void read(int y, int[][] colour, int[] alpha) {
      int w = raster.getWidth();
      raster.getPixels(raster.getMinX(), raster.getMinY() + y, w, 1, buffer);
      for (int x = 0; x < w; x++) {
        int p = x * bands;
        for (int c = 0; c < colours; c++) {
          colour[c][x] = scaled(buffer[p + c], bits[c]);
        }
        if (hasAlpha) {
          alpha[x] = scaled(buffer[p + colours], bits[colours]);
        }
      }
    }

    private int scaled(int sample, int bitCount) {
      int sampleMax = (1 << bitCount) - 1;
      return sampleMax == maxValue
          ? sample
          : (int) Math.round(sample * (double) maxValue / sampleMax);
    }
  }

  /** Palette images (GIF, palette PNG, low-bit grey): colours looked up in the palette. */
  private static final class PaletteRows extends RowSource {
    private final Raster raster;
    private final IndexColorModel palette;
    private final int[] buffer;

    PaletteRows(Raster raster, IndexColorModel palette) {
      super(3, palette.hasAlpha(), 255);
      this.raster = raster;
      this.palette = palette;
      this.buffer = new int[raster.getWidth()];
    }

    @Override
    void read(int y, int[][] colour, int[] alpha) {
      int w = raster.getWidth();
      raster.getSamples(raster.getMinX(), raster.getMinY() + y, w, 1, 0, buffer);
      for (int x = 0; x < w; x++) {
        unpack(palette.getRGB(buffer[x]), x, colour, alpha);
      }
    }
  }

  /**
   * Anything else (packed BMP pixels, colour spaces other than grey and RGB, and RGB spaces other
   * than sRGB when converting), converted to 8-bit sRGB by the JDK.
   */
  private static final class ArgbRows extends RowSource {
    private final BufferedImage image;
    private final int[] buffer;

    ArgbRows(BufferedImage image) {
      super(3, image.getColorModel().hasAlpha(), 255);
      this.image = image;
      this.buffer = new int[image.getWidth()];
    }

    @Override
    void read(int y, int[][] colour, int[] alpha) {
      int w = image.getWidth();
      image.getRGB(0, y, w, 1, buffer, 0, w);
      for (int x = 0; x < w; x++) {
        unpack(buffer[x], x, colour, alpha);
      }
    }
  }

  private static void unpack(int argb, int x, int[][] colour, int[] alpha) {
    colour[0][x] = (argb >> 16) & 0xff;
    colour[1][x] = (argb >> 8) & 0xff;
    colour[2][x] = argb & 0xff;
    alpha[x] = argb >>> 24;
  }
}
