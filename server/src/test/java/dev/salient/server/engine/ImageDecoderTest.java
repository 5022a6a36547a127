package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException.InvalidArgument;
import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {

  private static InputSpec spec(int channels, int height, int width, float min, float max) {
    float[] mean = new float[channels];
    float[] std = new float[channels];
    Arrays.fill(std, 1f);
    return new InputSpec(channels, height, width, min, max, mean, std);
  }

  private static InputSpec unit(int channels, int height, int width) {
    return spec(channels, height, width, 0f, 1f);
  }

  private static byte[] encode(BufferedImage image, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(image, format, out), "no ImageIO writer for " + format);
    return out.toByteArray();
  }

  private static BufferedImage greyRamp(int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.getRaster().setSample(x, y, 0, (x * 9 + y * 7) % 256);
      }
    }
    return image;
  }

  private static BufferedImage filled(int width, int height, int type, int argb) {
    BufferedImage image = new BufferedImage(width, height, type);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.setRGB(x, y, argb);
      }
    }
    return image;
  }

  private static BufferedImage greyRow(int... values) {
    BufferedImage image = new BufferedImage(values.length, 1, BufferedImage.TYPE_BYTE_GRAY);
    image.getRaster().setSamples(0, 0, values.length, 1, 0, values);
    return image;
  }

  /** A PNG holding only a signature and an IHDR chunk: a header with no pixel data. */
  private static byte[] pngHeaderOnly(int width, int height) {
    ByteBuffer ihdr = ByteBuffer.allocate(17);
    ihdr.put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(width).putInt(height);
    ihdr.put(new byte[] {8, 0, 0, 0, 0});
    CRC32 crc = new CRC32();
    crc.update(ihdr.array());
    ByteBuffer png = ByteBuffer.allocate(8 + 4 + 17 + 4);
    png.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
    png.putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
    return png.array();
  }

  private static byte[] floats(float... values) {
    ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      buffer.putFloat(v);
    }
    return buffer.array();
  }

  private static float[] ramp(int n) {
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      values[i] = (i % 11) / 10f;
    }
    return values;
  }

  @Test
  void decodingHoldsTheImagesPixelBytesFromItsHeaderAndReturnsThemAfter() throws IOException {
    DecodeBudget budget = new DecodeBudget(1024 * 1024, java.time.Duration.ZERO);
    BufferedImage deep = new BufferedImage(new ComponentColorModel(
        ColorSpace.getInstance(ColorSpace.CS_sRGB), false, false, Transparency.OPAQUE,
        DataBuffer.TYPE_USHORT), new ComponentColorModel(ColorSpace.getInstance(ColorSpace.CS_sRGB),
        false, false, Transparency.OPAQUE, DataBuffer.TYPE_USHORT)
        .createCompatibleWritableRaster(100, 50), false, null);

    ImageDecoder.decode(encode(deep, "png"), unit(3, 8, 8), budget);

    // 100 x 50 pixels, 3 samples of 2 bytes each, counted in whole KiB.
    assertEquals(30 * 1024, budget.peakBytesInUse());
    assertEquals(0, budget.bytesInUse());
  }

  @Test
  void anImageOverTheDecodeBudgetIsRefusedBeforeItsPixelsAreRead() {
    DecodeBudget budget = new DecodeBudget(1024 * 1024, java.time.Duration.ZERO);

    // Only a header: reading pixels would fail as truncated, so the refusal came first.
    var refused = assertThrows(
        dev.salient.server.util.SalientException.CapacityExceeded.class,
        () -> ImageDecoder.decode(pngHeaderOnly(2000, 2000), unit(3, 8, 8), budget));

    assertTrue(refused.getMessage().contains("2000x2000 PNG"), refused.getMessage());
    assertEquals(0, budget.peakBytesInUse());
  }

  @Test
  void greyPngAtModelSizeDecodesToExactValues() throws IOException {
    BufferedImage image = greyRamp(28, 28);
    float[] expected = new float[28 * 28];
    for (int y = 0; y < 28; y++) {
      for (int x = 0; x < 28; x++) {
        expected[y * 28 + x] = image.getRaster().getSample(x, y, 0) / 255f;
      }
    }

    float[] actual = ImageDecoder.decode(encode(image, "png"), unit(1, 28, 28));

    assertArrayEquals(expected, actual, 0f);
  }

  @Test
  void samplesAreScaledLinearlyIntoThePixelRange() throws IOException {
    byte[] png = encode(greyRow(0, 51, 255), "png");

    float[] actual = ImageDecoder.decode(png, spec(1, 1, 3, -1f, 1f));

    assertArrayEquals(new float[] {-1f, -0.6f, 1f}, actual, 1e-6f);
  }

  @Test
  void uniformColourPngResizedToGreyKeepsShapeAndPilsIntegerLuma() throws IOException {
    byte[] png = encode(filled(100, 60, BufferedImage.TYPE_INT_RGB, 0xc86432), "png");

    float[] actual = ImageDecoder.decode(png, unit(1, 28, 28));

    assertEquals(28 * 28, actual.length);
    // PIL's convert("L"): (200 * 19595 + 100 * 38470 + 50 * 7471 + 0x8000) >> 16 = 124.
    for (float v : actual) {
      assertEquals(124 / 255f, v, 1e-6f);
    }
  }

  @Test
  void uniformColourJpegResizedToGreyIsCloseToItsLuma() throws IOException {
    byte[] jpeg = encode(filled(100, 60, BufferedImage.TYPE_INT_RGB, 0xc86432), "jpeg");

    float[] actual = ImageDecoder.decode(jpeg, unit(1, 28, 28));

    assertEquals(28 * 28, actual.length);
    float luma = (0.299f * 200 + 0.587f * 100 + 0.114f * 50) / 255f;
    for (float v : actual) {
      assertEquals(luma, v, 3 / 255f);
    }
  }

  @Test
  void shrinkingByDefaultUsesPilsAntialiasedBilinearFilter() throws IOException {
    byte[] png = encode(greyRow(30, 90, 150), "png");

    float[] actual = ImageDecoder.decode(png, spec(1, 1, 2, 0f, 255f));

    // The triangle is widened by the scale 1.5: pixel 0 weighs inputs 0 and 1 as 5/6 and 1/2,
    // (25 + 45) / (4 / 3) = 52.5, rounded to 53 as PIL rounds; Image.resize gives [53, 128].
    assertArrayEquals(new float[] {53f, 128f}, actual, 1e-4f);
  }

  @Test
  void areaShrinkAveragesThePixelsWhoseCentresItsBoxCoversAsPilBoxDoes() throws IOException {
    byte[] png = encode(greyRow(30, 90, 150), "png");
    InputSpec area = spec(1, 1, 2, 0f, 255f).withPreprocessing(new Preprocessing(
        Preprocessing.Filter.AREA, 0, Preprocessing.Crop.NONE, Preprocessing.ColorManagement.NONE));

    float[] actual = ImageDecoder.decode(png, area);

    // Box [0, 1.5) holds the centres 0.5 and 1.5 (the right edge counts), box [1.5, 3) only
    // 2.5: PIL's Image.resize((2, 1), BOX) gives [60, 150].
    assertArrayEquals(new float[] {60f, 150f}, actual, 1e-4f);
  }

  @Test
  void enlargingInterpolatesBilinearlyBetweenPixelCentres() throws IOException {
    byte[] png = encode(greyRow(0, 200), "png");

    float[] actual = ImageDecoder.decode(png, spec(1, 1, 4, 0f, 255f));

    assertArrayEquals(new float[] {0f, 50f, 150f, 200f}, actual, 1e-3f);
  }

  @Test
  void rgbaIsCompositedOverBlack() throws IOException {
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
    image.setRGB(0, 0, 0x00ffffff);
    image.setRGB(1, 0, 0x80ffffff);

    float[] actual = ImageDecoder.decode(encode(image, "png"), unit(1, 1, 2));

    assertArrayEquals(new float[] {0f, 128 / 255f}, actual, 1e-6f);
  }

  @Test
  void greyWithAlphaIsCompositedOverBlack() throws IOException {
    ComponentColorModel model =
        new ComponentColorModel(
            ColorSpace.getInstance(ColorSpace.CS_GRAY),
            true,
            false,
            Transparency.TRANSLUCENT,
            DataBuffer.TYPE_BYTE);
    BufferedImage image =
        new BufferedImage(model, model.createCompatibleWritableRaster(1, 1), false, null);
    image.getRaster().setPixel(0, 0, new int[] {200, 51});

    float[] actual = ImageDecoder.decode(encode(image, "png"), unit(1, 1, 1));

    assertEquals(200 / 255f * 0.2f, actual[0], 1e-6f);
  }

  @Test
  void greyIsReplicatedToThreeChannels() throws IOException {
    byte[] png = encode(greyRow(10, 20), "png");

    float[] actual = ImageDecoder.decode(png, spec(3, 1, 2, 0f, 255f));

    assertArrayEquals(new float[] {10, 20, 10, 20, 10, 20}, actual, 0f);
  }

  @Test
  void colourIsReturnedChannelFirst() throws IOException {
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
    image.setRGB(0, 0, 0x0a141e);
    image.setRGB(1, 0, 0x28323c);

    float[] actual = ImageDecoder.decode(encode(image, "png"), spec(3, 1, 2, 0f, 255f));

    assertArrayEquals(new float[] {10, 40, 20, 50, 30, 60}, actual, 0f);
  }

  @Test
  void sixteenBitPngKeepsFullPrecision() throws IOException {
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_USHORT_GRAY);
    image.getRaster().setSamples(0, 0, 2, 1, 0, new int[] {1000, 65535});

    float[] actual = ImageDecoder.decode(encode(image, "png"), unit(1, 1, 2));

    assertArrayEquals(new float[] {1000 / 65535f, 1f}, actual, 1e-7f);
  }

  @Test
  void paletteGifDecodesToItsPaletteColours() throws IOException {
    byte[] red = {(byte) 255, 0};
    byte[] green = {0, (byte) 128};
    byte[] blue = {0, (byte) 255};
    IndexColorModel palette = new IndexColorModel(1, 2, red, green, blue);
    BufferedImage image = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_BINARY, palette);
    image.getRaster().setSamples(0, 0, 2, 1, 0, new int[] {0, 1});

    float[] actual = ImageDecoder.decode(encode(image, "gif"), spec(3, 1, 2, 0f, 255f));

    assertArrayEquals(new float[] {255, 0, 0, 128, 0, 255}, actual, 0f);
  }

  @Test
  void bmpDecodes() throws IOException {
    byte[] bmp = encode(filled(3, 2, BufferedImage.TYPE_3BYTE_BGR, 0x102030), "bmp");

    float[] actual = ImageDecoder.decode(bmp, spec(3, 2, 3, 0f, 255f));

    float[] expected = new float[18];
    Arrays.fill(expected, 0, 6, 16f);
    Arrays.fill(expected, 6, 12, 32f);
    Arrays.fill(expected, 12, 18, 48f);
    assertArrayEquals(expected, actual, 0f);
  }

  @Test
  void encodedPngRoundTripsThroughDecode() {
    InputSpec spec = unit(3, 4, 5);
    float[] values = new float[spec.size()];
    for (int i = 0; i < values.length; i++) {
      values[i] = (i * 37 % 256) / 255f;
    }

    float[] actual = ImageDecoder.decode(ImageDecoder.toPng(values, spec), spec);

    assertArrayEquals(values, actual, 0f);
  }

  @Test
  void emptyBytesAreRejectedWithAHint() {
    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(new byte[0], unit(1, 2, 2)));

    assertTrue(e.getMessage().contains("image bytes are empty"), e.getMessage());
    assertTrue(e.getMessage().contains("PNG or JPEG"), e.getMessage());
  }

  @Test
  void garbageBytesAreRejectedShowingTheirFirstBytes() {
    byte[] garbage = "this is not an image".getBytes(StandardCharsets.US_ASCII);

    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(garbage, unit(1, 2, 2)));

    assertTrue(e.getMessage().contains("not a readable PNG, JPEG, BMP or GIF"), e.getMessage());
    assertTrue(e.getMessage().contains("first bytes: 0x74 0x68 0x69 0x73"), e.getMessage());
  }

  @Test
  void truncatedPngIsRejected() throws IOException {
    byte[] png = encode(greyRamp(64, 64), "png");
    byte[] truncated = Arrays.copyOf(png, png.length / 2);

    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(truncated, unit(1, 8, 8)));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  /** {@code png} with an iCCP chunk holding {@code profile} inserted after its IHDR chunk. */
  private static byte[] withIccpChunk(byte[] png, byte[] profile) {
    ByteArrayOutputStream deflated = new ByteArrayOutputStream();
    try (var out = new java.util.zip.DeflaterOutputStream(deflated)) {
      out.write(profile);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    byte[] name = "test\0\0".getBytes(StandardCharsets.US_ASCII);
    ByteBuffer chunk = ByteBuffer.allocate(4 + name.length + deflated.size());
    chunk.put("iCCP".getBytes(StandardCharsets.US_ASCII)).put(name).put(deflated.toByteArray());
    CRC32 crc = new CRC32();
    crc.update(chunk.array());
    int afterIhdr = 8 + 4 + 17 + 4;
    ByteBuffer out = ByteBuffer.allocate(png.length + 4 + chunk.capacity() + 4);
    out.put(png, 0, afterIhdr).putInt(chunk.capacity() - 4).put(chunk.array())
        .putInt((int) crc.getValue()).put(png, afterIhdr, png.length - afterIhdr);
    return out.array();
  }

  @Test
  void damagedIccProfileIsRejectedWhenConvertingToSrgb() throws IOException {
    byte[] png = withIccpChunk(encode(filled(4, 4, BufferedImage.TYPE_INT_RGB, 0x336699), "png"),
        "not an ICC profile".getBytes(StandardCharsets.US_ASCII));
    InputSpec converting = unit(3, 4, 4).withPreprocessing(new Preprocessing(
        Preprocessing.Filter.BILINEAR, 0, Preprocessing.Crop.NONE,
        Preprocessing.ColorManagement.ICC_TO_SRGB));

    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(png, converting));

    assertTrue(e.getMessage().contains("ICC profile is damaged"), e.getMessage());
    assertTrue(e.getMessage().contains("\"color_management\": \"none\""), e.getMessage());
  }

  @Test
  void damagedIccProfileIsIgnoredWithColourManagementNone() throws IOException {
    byte[] png = withIccpChunk(encode(filled(4, 4, BufferedImage.TYPE_INT_RGB, 0x336699), "png"),
        "not an ICC profile".getBytes(StandardCharsets.US_ASCII));

    float[] actual = ImageDecoder.decode(png, unit(3, 4, 4));

    assertEquals(0x33 / 255f, actual[0], 1e-6f);
    assertEquals(0x99 / 255f, actual[2 * 16], 1e-6f);
  }

  @Test
  void truncatedJpegIsRejected() throws IOException {
    byte[] jpeg = encode(greyRamp(64, 64), "jpeg");
    byte[] truncated = Arrays.copyOf(jpeg, jpeg.length * 2 / 3);

    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(truncated, unit(1, 8, 8)));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void imageOverThePixelLimitIsRejectedFromItsHeader() {
    // No pixel data follows the header, so only a check made before decoding can name the limit.
    byte[] bomb = pngHeaderOnly(10_000, 10_000);

    var e = assertThrows(dev.salient.server.util.SalientException.CapacityExceeded.class,
        () -> ImageDecoder.decode(bomb, unit(1, 28, 28)));

    assertTrue(e.getMessage().contains("10000x10000"), e.getMessage());
    assertTrue(e.getMessage().contains("limit of 40 megapixels (salient.limits.max-pixels)"),
        e.getMessage());
  }

  @Test
  void imageOverAConfiguredPixelLimitIsRefusedNamingTheKeyAndOneAtItIsDecoded()
      throws IOException {
    DecodeBudget sevenHundredPixels =
        new DecodeBudget(1024 * 1024, java.time.Duration.ZERO, 28 * 25);
    DecodeBudget exactly = new DecodeBudget(1024 * 1024, java.time.Duration.ZERO, 28 * 28);
    byte[] png = encode(greyRamp(28, 28), "png");

    var e = assertThrows(dev.salient.server.util.SalientException.CapacityExceeded.class,
        () -> ImageDecoder.decode(png, unit(1, 28, 28), sevenHundredPixels));
    float[] decoded = ImageDecoder.decode(png, unit(1, 28, 28), exactly);

    assertTrue(e.getMessage().contains("28x28 pixels"), e.getMessage());
    assertTrue(e.getMessage().contains("limit of 700 pixels (salient.limits.max-pixels)"),
        e.getMessage());
    assertEquals(28 * 28, decoded.length);
  }

  @Test
  void centreCropOfAnImageTooElongatedToResizeIsRejected() throws IOException {
    byte[] png = encode(new BufferedImage(200_000, 1, BufferedImage.TYPE_BYTE_GRAY), "png");
    InputSpec cropping = unit(1, 8, 8).withPreprocessing(new Preprocessing(
        Preprocessing.Filter.BILINEAR, 256, Preprocessing.Crop.CENTER,
        Preprocessing.ColorManagement.NONE));

    InvalidArgument e =
        assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(png, cropping));

    assertTrue(e.getMessage().contains("long side 51200000 pixels"), e.getMessage());
    assertTrue(e.getMessage().contains("crop the image closer"), e.getMessage());
  }

  @Test
  void zeroSizeImageIsRejected() {
    byte[] empty = pngHeaderOnly(0, 5);

    assertThrows(InvalidArgument.class, () -> ImageDecoder.decode(empty, unit(1, 28, 28)));
  }

  @Test
  void tensorMatchingTheSpecIsReturnedAsIs() {
    float[] values = ramp(2 * 3 * 4);

    float[] actual = ImageDecoder.fromTensor(new long[] {3, 2, 4}, floats(values), unit(3, 2, 4));

    assertArrayEquals(values, actual, 0f);
  }

  @Test
  void tensorWithBatchDimensionOfOneIsAccepted() {
    float[] values = ramp(12);

    float[] actual =
        ImageDecoder.fromTensor(new long[] {1, 1, 3, 4}, floats(values), unit(1, 3, 4));

    assertArrayEquals(values, actual, 0f);
  }

  @Test
  void tensorWithWrongShapeIsRejectedNamingTheExpectedShape() {
    byte[] data = floats(new float[3 * 32 * 32]);

    InvalidArgument e =
        assertThrows(
            InvalidArgument.class,
            () -> ImageDecoder.fromTensor(new long[] {3, 32, 32}, data, unit(1, 28, 28)));

    assertEquals(
        "tensor shape [3, 32, 32] does not match the model's input [1, 28, 28]: "
            + "send [C, H, W] = [1, 28, 28] with values in [0.0, 1.0]",
        e.getMessage());
  }

  @Test
  void tensorWithWrongByteLengthIsRejected() {
    byte[] data = new byte[10];

    InvalidArgument e =
        assertThrows(
            InvalidArgument.class,
            () -> ImageDecoder.fromTensor(new long[] {1, 2, 2}, data, unit(1, 2, 2)));

    assertTrue(e.getMessage().contains("10 bytes"), e.getMessage());
    assertTrue(e.getMessage().contains("needs 16"), e.getMessage());
  }

  @Test
  void nanInTensorIsRejectedWithItsIndex() {
    byte[] data = floats(0f, 0.5f, 0.5f, Float.NaN, 0.5f, 0.5f);

    InvalidArgument e =
        assertThrows(
            InvalidArgument.class,
            () -> ImageDecoder.fromTensor(new long[] {1, 2, 3}, data, unit(1, 2, 3)));

    assertTrue(e.getMessage().contains("index 3 (c=0, y=1, x=0) is NaN"), e.getMessage());
  }

  @Test
  void tensorValueOutsideThePixelRangeIsRejectedWithItsIndex() {
    byte[] data = floats(0f, 0.5f, 1.5f, 0.5f);

    InvalidArgument e =
        assertThrows(
            InvalidArgument.class,
            () -> ImageDecoder.fromTensor(new long[] {1, 2, 2}, data, unit(1, 2, 2)));

    assertTrue(e.getMessage().contains("1.5 at index 2"), e.getMessage());
    assertTrue(e.getMessage().contains("[0.0, 1.0]"), e.getMessage());
  }
}
