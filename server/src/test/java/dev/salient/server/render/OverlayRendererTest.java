package dev.salient.server.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.util.SalientException.InvalidArgument;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class OverlayRendererTest {

  private static final int HOTTEST = 0xfcffa4;

  private static InputSpec spec(int channels, int height, int width) {
    float[] mean = new float[channels];
    float[] std = new float[channels];
    Arrays.fill(std, 1f);
    return new InputSpec(channels, height, width, 0f, 1f, mean, std);
  }

  /** Grey levels k / 255 with k = (x * 9 + y) mod 256, so each pixel's expected byte is known. */
  private static float[] greyImage(int height, int width) {
    float[] image = new float[height * width];
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image[y * width + x] = ((x * 9 + y) % 256) / 255f;
      }
    }
    return image;
  }

  private static BufferedImage read(byte[] png) throws IOException {
    return ImageIO.read(new ByteArrayInputStream(png));
  }

  private static int rgb(BufferedImage image, int x, int y) {
    return image.getRGB(x, y) & 0xffffff;
  }

  private static int red(int rgb) {
    return rgb >> 16 & 0xff;
  }

  private static int blue(int rgb) {
    return rgb & 0xff;
  }

  @Test
  void smallImageIsEnlargedByAWholeFactorTo224() throws IOException {
    byte[] png =
        OverlayRenderer.overlayPng(
            greyImage(28, 28), spec(1, 28, 28), new float[784], 28, 28, ColourScale.SEQUENTIAL);

    BufferedImage image = read(png);

    assertEquals(224, image.getWidth());
    assertEquals(224, image.getHeight());
  }

  @Test
  void enlargementFactorMakesTheShortSideAtLeast224() throws IOException {
    byte[] png =
        OverlayRenderer.overlayPng(
            greyImage(60, 100), spec(1, 60, 100), new float[6000], 60, 100, ColourScale.DIVERGING);

    BufferedImage image = read(png);

    // ceil(224 / 60) = 4
    assertEquals(400, image.getWidth());
    assertEquals(240, image.getHeight());
  }

  @Test
  void zeroMapRendersThePlainImage() throws IOException {
    float[] grey = greyImage(28, 28);

    BufferedImage image =
        read(
            OverlayRenderer.overlayPng(
                grey, spec(1, 28, 28), new float[784], 28, 28, ColourScale.SEQUENTIAL));

    for (int y = 0; y < 224; y++) {
      for (int x = 0; x < 224; x++) {
        int k = Math.round(grey[(y / 8) * 28 + x / 8] * 255);
        assertEquals(k << 16 | k << 8 | k, rgb(image, x, y), "pixel " + x + "," + y);
      }
    }
  }

  @Test
  void zeroMapKeepsTheColoursOfAColourImage() throws IOException {
    float[] chw = {1f, 0f, 0f, 1f, 0f, 0f}; // one pure red pixel, one pure green pixel

    BufferedImage image =
        read(
            OverlayRenderer.overlayPng(
                chw, spec(3, 1, 2), new float[2], 1, 2, ColourScale.DIVERGING));

    assertEquals(0xff0000, rgb(image, 0, 0));
    assertEquals(0x00ff00, rgb(image, image.getWidth() - 1, 0));
  }

  @Test
  void sequentialMaxPixelGetsTheHottestColour() throws IOException {
    float[] map = new float[49];
    for (int i = 0; i < map.length; i++) {
      map[i] = (i % 5) * 0.1f;
    }
    map[3 * 7 + 2] = 2f;

    BufferedImage image = read(OverlayRenderer.heatmapPng(map, 7, 7, ColourScale.SEQUENTIAL));

    // 7x7 is enlarged 32 times; (2, 3) covers x 64..95, y 96..127.
    assertEquals(HOTTEST, rgb(image, 80, 110));
    assertTrue(rgb(image, 0, 0) != HOTTEST);
  }

  @Test
  void overlayMaxPixelShowsTheHottestColourOverTheImage() throws IOException {
    float[] map = new float[784];
    map[10 * 28 + 5] = 0.3f;
    map[10 * 28 + 6] = 0.1f;

    BufferedImage image =
        read(
            OverlayRenderer.overlayPng(
                greyImage(28, 28), spec(1, 28, 28), map, 28, 28, ColourScale.SEQUENTIAL));

    assertEquals(HOTTEST, rgb(image, 5 * 8 + 4, 10 * 8 + 4));
  }

  @Test
  void sequentialScaleIgnoresTheSign() throws IOException {
    float[] map = {0.5f, -2f, 1f, 0f};

    BufferedImage image = read(OverlayRenderer.heatmapPng(map, 2, 2, ColourScale.SEQUENTIAL));

    assertEquals(HOTTEST, rgb(image, image.getWidth() - 1, 0));
  }

  @Test
  void divergingShowsNegativeBlueAndPositiveRed() throws IOException {
    float[] map = {-1f, 0f, 0.8f};

    BufferedImage image = read(OverlayRenderer.heatmapPng(map, 1, 3, ColourScale.DIVERGING));

    int negative = rgb(image, 10, 10);
    int zero = rgb(image, 224 + 10, 10);
    int positive = rgb(image, 2 * 224 + 10, 10);
    assertTrue(blue(negative) > red(negative) + 100, Integer.toHexString(negative));
    assertTrue(red(positive) > blue(positive) + 100, Integer.toHexString(positive));
    assertTrue(red(zero) > 240 && blue(zero) > 240, Integer.toHexString(zero));
  }

  @Test
  void aPixelAtAQuarterOfTheMaxIsColouredAndBlendedAsHalf() throws IOException {
    // Gamma 0.5: sparse maps stay visible beside their few strongest pixels.
    float[] map = {0.25f, 1f};
    float[] black = new float[2];

    BufferedImage heat = read(OverlayRenderer.heatmapPng(map, 1, 2, ColourScale.SEQUENTIAL));
    BufferedImage over = read(OverlayRenderer.overlayPng(black, spec(1, 1, 2), map, 1, 2,
        ColourScale.SEQUENTIAL));

    int half = ColourScale.SEQUENTIAL.rgb(0.5f);
    assertEquals(half, rgb(heat, 0, 0));
    for (int shift = 0; shift <= 16; shift += 8) {
      // Over black, opacity 0.5 gives half of the colour's channel.
      assertEquals(Math.rint(((half >> shift) & 0xff) * 0.5), (rgb(over, 0, 0) >> shift) & 0xff,
          1.0, "channel at bit " + shift);
    }
  }

  @Test
  void signIsKeptUnderTheGamma() throws IOException {
    float[] map = {-0.25f, 1f};

    BufferedImage image = read(OverlayRenderer.heatmapPng(map, 1, 2, ColourScale.DIVERGING));

    assertEquals(ColourScale.DIVERGING.rgb(-0.5f), rgb(image, 0, 0));
  }

  @Test
  void coarseMapIsResampledOverTheWholeImage() throws IOException {
    float[] map = new float[7 * 7];
    Arrays.fill(map, 0.25f);

    BufferedImage image =
        read(
            OverlayRenderer.overlayPng(
                greyImage(28, 28), spec(1, 28, 28), map, 7, 7, ColourScale.SEQUENTIAL));

    for (int y = 0; y < 224; y += 7) {
      for (int x = 0; x < 224; x += 7) {
        assertEquals(HOTTEST, rgb(image, x, y), "pixel " + x + "," + y);
      }
    }
  }

  @Test
  void mapWithTheWrongNumberOfValuesIsRejected() {
    InvalidArgument e =
        assertThrows(
            InvalidArgument.class,
            () ->
                OverlayRenderer.overlayPng(
                    greyImage(28, 28),
                    spec(1, 28, 28),
                    new float[10],
                    7,
                    7,
                    ColourScale.DIVERGING));

    assertTrue(e.getMessage().contains("needs 49"), e.getMessage());
  }
}
