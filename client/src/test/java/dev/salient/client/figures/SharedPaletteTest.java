package dev.salient.client.figures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import org.junit.jupiter.api.Test;

/** One palette for every frame of an animation: greys kept exactly, colours nearly. */
class SharedPaletteTest {

  @Test
  void greyFramesKeepEveryGreyLevel() {
    SharedPalette palette = new SharedPalette();
    BufferedImage ramp = picture(256, 1, (x, y) -> x * 0x010101);
    palette.add(ramp);
    palette.add(picture(256, 1, (x, y) -> (255 - x) * 0x010101));

    BufferedImage indexed = palette.indexed(0);

    for (int x = 0; x < 256; x++) {
      assertEquals(ramp.getRGB(x, 0), indexed.getRGB(x, 0), "grey " + x);
    }
  }

  @Test
  void colourFramesShareOnePaletteAndStayWithinAFewLevels() {
    SharedPalette palette = new SharedPalette();
    BufferedImage first = picture(64, 64, (x, y) -> (x * 4 << 16) | (y * 4 << 8) | 0x80);
    BufferedImage second = picture(64, 64, (x, y) -> (y * 4 << 16) | 0x20 << 8 | x * 4);
    palette.add(first);
    palette.add(second);

    BufferedImage firstIndexed = palette.indexed(0);
    BufferedImage secondIndexed = palette.indexed(1);

    assertSame(firstIndexed.getColorModel(), secondIndexed.getColorModel());
    assertTrue(worstChannelError(first, firstIndexed) <= 24, "first frame");
    assertTrue(worstChannelError(second, secondIndexed) <= 24, "second frame");
  }

  @Test
  void blackAndWhiteStayExactInColourFrames() {
    SharedPalette palette = new SharedPalette();
    BufferedImage frame = picture(300, 300, (x, y) -> x < 10 ? 0 : x < 20 ? 0xffffff
        : ((x * 7) % 256 << 16) | ((y * 13) % 256 << 8) | (x * y) % 256);
    palette.add(frame);

    BufferedImage indexed = palette.indexed(0);

    assertEquals(0x000000, indexed.getRGB(5, 5) & 0xffffff);
    assertEquals(0xffffff, indexed.getRGB(15, 5) & 0xffffff);
  }

  @Test
  void anAnimationFrameLeavesWhatDidNotChangeTransparent() {
    SharedPalette palette = new SharedPalette();
    palette.add(picture(64, 64, (x, y) -> (x * 4 << 16) | (y * 4 << 8) | 0x80));
    palette.add(picture(64, 64, (x, y) -> x < 32 ? (x * 4 << 16) | (y * 4 << 8) | 0x80
        : 0x00ff00));

    BufferedImage whole = palette.indexed(1);
    BufferedImage changes = palette.animationFrame(1);

    assertEquals(0, changes.getRGB(10, 10) >>> 24, "unchanged: transparent");
    assertEquals(whole.getRGB(40, 10), changes.getRGB(40, 10), "changed: drawn");
    assertEquals(0x00ff00, changes.getRGB(40, 10) & 0xffffff);
    assertEquals(palette.indexed(0).getRGB(10, 10), whole.getRGB(10, 10));
  }

  @Test
  void greyAnimationFramesAreWholeForTheGreysLeaveNoEntryFree() {
    SharedPalette palette = new SharedPalette();
    palette.add(picture(256, 1, (x, y) -> x * 0x010101));
    palette.add(picture(256, 1, (x, y) -> x * 0x010101));

    BufferedImage second = palette.animationFrame(1);

    for (int x = 0; x < 256; x++) {
      assertEquals(x * 0x010101, second.getRGB(x, 0) & 0xffffff, "grey " + x);
    }
  }

  private interface Colour {
    int at(int x, int y);
  }

  private static BufferedImage picture(int width, int height, Colour colour) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.setRGB(x, y, colour.at(x, y));
      }
    }
    return image;
  }

  private static int worstChannelError(BufferedImage expected, BufferedImage actual) {
    int worst = 0;
    for (int y = 0; y < expected.getHeight(); y++) {
      for (int x = 0; x < expected.getWidth(); x++) {
        int a = expected.getRGB(x, y);
        int b = actual.getRGB(x, y);
        for (int shift = 0; shift <= 16; shift += 8) {
          worst = Math.max(worst, Math.abs((a >> shift & 0xff) - (b >> shift & 0xff)));
        }
      }
    }
    return worst;
  }
}
