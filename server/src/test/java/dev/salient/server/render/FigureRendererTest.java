package dev.salient.server.render;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class FigureRendererTest {

  private static final InputSpec GREY_28 =
      new InputSpec(1, 28, 28, 0f, 1f, new float[] {0f}, new float[] {1f});
  private static final FigureRenderer.Title TITLE =
      new FigureRenderer.Title("vanilla", "saliency", "Sneaker", 0.982);

  private static float[] image() {
    float[] image = new float[28 * 28];
    for (int i = 0; i < image.length; i++) {
      image[i] = (i % 28) / 27f;
    }
    return image;
  }

  /** Values from -0.02 to +0.04 across the rows: a signed map with max |value| 0.04. */
  private static FloatTensor signedMap() {
    float[] data = new float[28 * 28];
    for (int i = 0; i < data.length; i++) {
      data[i] = -0.02f + 0.06f * (i / 28) / 27f;
    }
    return new FloatTensor(new long[] {28, 28}, data);
  }

  private static int rgb(BufferedImage image, int x, int y) {
    return image.getRGB(x, y) & 0xffffff;
  }

  /** Largest difference of one colour channel between two 0xRRGGBB colours. */
  private static int distance(int a, int b) {
    int d = 0;
    for (int shift = 0; shift <= 16; shift += 8) {
      d = Math.max(d, Math.abs(((a >> shift) & 0xff) - ((b >> shift) & 0xff)));
    }
    return d;
  }

  @Test
  void figureHoldsThe224PixelOverlayUnchangedWithRoomForTitleAndBar() throws IOException {
    FloatTensor map = signedMap();

    FigureRenderer.Figure figure =
        FigureRenderer.figure(image(), GREY_28, map, ColourScale.DIVERGING, TITLE);

    FigureRenderer.Layout layout = figure.layout();
    BufferedImage overlay = ImageIO.read(new ByteArrayInputStream(
        OverlayRenderer.overlayPng(image(), GREY_28, map, ColourScale.DIVERGING)));
    assertEquals(224, layout.overlayWidth());
    assertEquals(224, layout.overlayHeight());
    assertTrue(figure.image().getWidth() > 224 + FigureRenderer.BAR_WIDTH + 40);
    assertTrue(figure.image().getHeight() > 224 + 40);
    for (int y = 0; y < 224; y++) {
      for (int x = 0; x < 224; x++) {
        assertEquals(rgb(overlay, x, y),
            rgb(figure.image(), layout.overlayX() + x, layout.overlayY() + y),
            "overlay pixel " + x + "," + y);
      }
    }
  }

  @Test
  void figurePngDecodesToTheDrawnFigure() throws IOException {
    byte[] png = FigureRenderer.figurePng(image(), GREY_28, signedMap(), ColourScale.DIVERGING,
        TITLE);

    BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(png));
    BufferedImage drawn =
        FigureRenderer.figure(image(), GREY_28, signedMap(), ColourScale.DIVERGING, TITLE)
            .image();
    assertEquals(drawn.getWidth(), decoded.getWidth());
    assertEquals(drawn.getHeight(), decoded.getHeight());
    assertEquals(rgb(drawn, drawn.getWidth() / 2, 5), rgb(decoded, drawn.getWidth() / 2, 5));
  }

  @Test
  void sequentialBarRunsThroughTheScalesStopsFromLowAtTheBottomToHighAtTheTop() {
    FigureRenderer.Figure figure =
        FigureRenderer.figure(image(), GREY_28, signedMap(), ColourScale.SEQUENTIAL, TITLE);

    FigureRenderer.Layout l = figure.layout();
    int x = l.barX() + FigureRenderer.BAR_WIDTH / 2;
    int bottom = l.barY() + l.barHeight() - 1;
    assertEquals(0x000004, rgb(figure.image(), x, bottom), "inferno's first stop at the bottom");
    assertEquals(0xfcffa4, rgb(figure.image(), x, l.barY()), "inferno's last stop at the top");
    // Inferno's 17 stops: each one where the bar reaches its share of the height.
    for (int i = 0; i <= 16; i++) {
      int row = FigureRenderer.barRow(l, i / 16.0);
      int expected = ColourScale.SEQUENTIAL.rgb(i / 16f);
      assertTrue(distance(expected, rgb(figure.image(), x, row)) <= 12,
          "stop " + i + " at row " + row);
    }
    int lightness = -1;
    for (int row = bottom; row >= l.barY(); row -= 8) {
      int c = rgb(figure.image(), x, row);
      int sum = (c >> 16 & 0xff) + (c >> 8 & 0xff) + (c & 0xff);
      assertTrue(sum >= lightness, "inferno brightens upwards, row " + row);
      lightness = sum;
    }
  }

  @Test
  void divergingBarIsBlueAtTheBottomNeutralInTheMiddleAndRedAtTheTop() {
    FigureRenderer.Figure figure =
        FigureRenderer.figure(image(), GREY_28, signedMap(), ColourScale.DIVERGING, TITLE);

    FigureRenderer.Layout l = figure.layout();
    int x = l.barX() + FigureRenderer.BAR_WIDTH / 2;
    assertEquals(0x2166ac, rgb(figure.image(), x, l.barY() + l.barHeight() - 1));
    assertEquals(0xb2182b, rgb(figure.image(), x, l.barY()));
    int middle = rgb(figure.image(), x, FigureRenderer.barRow(l, 0.5));
    assertTrue(distance(0xf7f7f7, middle) <= 4, "neutral colour in the middle: "
        + Integer.toHexString(middle));
  }

  @Test
  void divergingTicksAreSymmetricAroundZeroAndReadTheGammaScaledValues() {
    List<FigureRenderer.Tick> ticks = FigureRenderer.ticks(ColourScale.DIVERGING, 0.04f);

    assertEquals(9, ticks.size());
    double[] expected = {-0.04, -0.0225, -0.01, -0.0025, 0, 0.0025, 0.01, 0.0225, 0.04};
    for (int i = 0; i < ticks.size(); i++) {
      assertEquals(expected[i], ticks.get(i).value(), 1e-8, "tick " + i);
      assertEquals(i / 8.0, ticks.get(i).position(), 1e-12, "tick " + i);
    }
  }

  @Test
  void eachTicksColourOnTheBarIsTheColourTheOverlayGivesItsValue() {
    float max = 0.04f;
    FigureRenderer.Figure figure =
        FigureRenderer.figure(image(), GREY_28, signedMap(), ColourScale.DIVERGING, TITLE);

    FigureRenderer.Layout l = figure.layout();
    for (FigureRenderer.Tick tick : FigureRenderer.ticks(ColourScale.DIVERGING, max)) {
      int overlayColour = ColourScale.DIVERGING.rgb(OverlayRenderer.gamma(tick.value() / max));
      int barColour = rgb(figure.image(), l.barX() + 2, FigureRenderer.barRow(l, tick.position()));
      assertTrue(distance(overlayColour, barColour) <= 6,
          "tick " + tick + ": bar " + Integer.toHexString(barColour) + " vs "
              + Integer.toHexString(overlayColour));
    }
  }

  @Test
  void sequentialTicksGoFromZeroToTheLargestMagnitude() {
    List<FigureRenderer.Tick> ticks = FigureRenderer.ticks(ColourScale.SEQUENTIAL, 2f);

    assertEquals(List.of(0.0, 0.125, 0.5, 1.125, 2.0),
        ticks.stream().map(FigureRenderer.Tick::value).toList());
  }

  @Test
  void aFlatImageStillGetsABarTallEnoughForItsLabels() {
    InputSpec wide = new InputSpec(1, 2, 400, 0f, 1f, new float[] {0f}, new float[] {1f});
    float[] data = new float[800];
    data[10] = 1f;

    FigureRenderer.Figure figure = FigureRenderer.figure(new float[800], wide,
        new FloatTensor(new long[] {2, 400}, data), ColourScale.SEQUENTIAL, TITLE);

    assertEquals(FigureRenderer.MIN_BAR_HEIGHT, figure.layout().barHeight());
    assertTrue(figure.image().getHeight() > FigureRenderer.MIN_BAR_HEIGHT);
  }

  @Test
  void allZeroMapGetsOneTickAtZero() {
    assertEquals(List.of(new FigureRenderer.Tick(0.5, 0)),
        FigureRenderer.ticks(ColourScale.DIVERGING, 0f));
  }

  @Test
  void labelsKeepThreeSignificantDigits() {
    assertEquals(List.of("0", "0.0225", "1.13", "-0.04", "1.23e-04", "12300"),
        List.of(FigureRenderer.label(0), FigureRenderer.label(0.0225),
            FigureRenderer.label(1.125), FigureRenderer.label(-0.04),
            FigureRenderer.label(0.000123), FigureRenderer.label(12345)));
  }

  @Test
  void titleAreaHasText() {
    FigureRenderer.Figure figure =
        FigureRenderer.figure(image(), GREY_28, signedMap(), ColourScale.DIVERGING, TITLE);

    int inked = 0;
    for (int y = FigureRenderer.MARGIN; y < figure.layout().overlayY(); y++) {
      for (int x = 0; x < figure.image().getWidth(); x++) {
        if (rgb(figure.image(), x, y) != 0xffffff) {
          inked++;
        }
      }
    }
    assertTrue(inked > 200, "title pixels: " + inked);
  }

  @Test
  void titleNamesMethodMapTargetAndProbability() {
    assertEquals(List.of("vanilla: saliency", "target: Sneaker (p = 0.982)"), TITLE.lines());
    assertEquals(List.of("vanilla: saliency", ""),
        new FigureRenderer.Title("vanilla", "saliency", null, Double.NaN).lines());
  }
}
