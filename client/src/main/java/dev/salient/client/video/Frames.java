package dev.salient.client.video;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Small image operations the video classes share. */
final class Frames {

  private Frames() {}

  /**
   * {@code image} drawn into a new image of the given size and type: bilinear, after halving
   * steps when shrinking by more than 2, so that a large frame does not alias into a small one.
   */
  static BufferedImage scaled(BufferedImage image, int width, int height, int type) {
    BufferedImage source = image;
    while (source.getWidth() >= 2 * width && source.getHeight() >= 2 * height) {
      source = draw(source, source.getWidth() / 2, source.getHeight() / 2, type);
    }
    return draw(source, width, height, type);
  }

  private static BufferedImage draw(BufferedImage image, int width, int height, int type) {
    BufferedImage out = new BufferedImage(width, height, type);
    Graphics2D g = out.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.drawImage(image, 0, 0, width, height, null);
    } finally {
      g.dispose();
    }
    return out;
  }

  /** {@code image} itself when it already has this size and type, else a scaled copy. */
  static BufferedImage fitted(BufferedImage image, int width, int height, int type) {
    if (image.getWidth() == width && image.getHeight() == height && image.getType() == type) {
      return image;
    }
    return scaled(image, width, height, type);
  }
}
