package dev.salient.client.video;

import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Tensor;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import java.util.Optional;

/**
 * Draws a saliency map over a frame: the map is upsampled to the frame's size and blended in, its
 * opacity following the map's magnitude, with a one-line label in the top-left corner.
 *
 * <p>Sequential maps (0 to max) go from dark red to yellow; diverging maps are red where
 * positive and blue where negative. Each map is scaled by its own maximum magnitude.
 */
public final class HeatmapOverlay {

  /** Frames with a shorter side below this are enlarged by a whole factor to reach it. */
  public static final int MIN_SIDE = 224;

  private static final double MAX_ALPHA = 0.65;
  private static final Color DROPPED = new Color(255, 170, 0);
  private static final Color LABEL_BACKGROUND = new Color(0, 0, 0, 160);

  private HeatmapOverlay() {}

  /**
   * The map to draw from a method's maps: "saliency", else the one named after the method
   * ("signed", "gradcam", "smoothgrad"), else the first; empty when there are none.
   */
  public static Optional<SaliencyMap> pick(List<SaliencyMap> maps, String method) {
    for (String name : List.of("saliency", method)) {
      for (SaliencyMap m : maps) {
        if (m.getName().equals(name)) {
          return Optional.of(m);
        }
      }
    }
    return maps.stream().findFirst();
  }

  /**
   * A new RGB image: {@code frame} with {@code map} (if any) over it and {@code label}; a
   * {@code dropped} frame gets an amber border and label, as its map is an older frame's. A small
   * frame (a 28 × 28 digit) is enlarged, pixels kept square, so that the label fits.
   */
  public static BufferedImage draw(
      BufferedImage frame, Optional<SaliencyMap> map, String label, boolean dropped) {
    int scale = (MIN_SIDE + Math.min(frame.getWidth(), frame.getHeight()) - 1)
        / Math.min(frame.getWidth(), frame.getHeight());
    int w = frame.getWidth() * scale;
    int h = frame.getHeight() * scale;
    BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    try {
      g.drawImage(frame, 0, 0, w, h, null);
      if (map.isPresent()) {
        g.setRenderingHint(
            RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(heat(map.get()), 0, 0, w, h, null);
      }
      if (dropped) {
        int stroke = Math.max(2, Math.min(w, h) / 60);
        g.setColor(DROPPED);
        g.setStroke(new BasicStroke(stroke));
        g.drawRect(stroke / 2, stroke / 2, w - stroke, h - stroke);
      }
      drawLabel(g, label, h, dropped ? DROPPED : Color.WHITE);
    } finally {
      g.dispose();
    }
    return out;
  }

  /** The map as a premultiplied-alpha image in its own resolution; bilinear scaling needs it. */
  static BufferedImage heat(SaliencyMap map) {
    Tensor t = map.getTensor();
    int n = t.getShapeCount();
    if (n < 2) {
      throw new IllegalArgumentException("map " + map.getName() + " has shape "
          + t.getShapeList() + ", not [H, W] or [C, H, W]");
    }
    int h = Math.toIntExact(t.getShape(n - 2));
    int w = Math.toIntExact(t.getShape(n - 1));
    FloatBuffer floats =
        t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    int plane = h * w;
    if (plane == 0 || floats.remaining() % plane != 0) {
      throw new IllegalArgumentException("map " + map.getName() + " has " + floats.remaining()
          + " values for shape " + t.getShapeList());
    }
    // [C, H, W] maps become one plane: the channel sum keeps the sign of diverging maps.
    float[] values = new float[plane];
    for (int i = 0; floats.hasRemaining(); i = (i + 1) % plane) {
      values[i] += floats.get();
    }
    boolean diverging = map.getColourScale().equals("diverging");
    float peak = 0;
    for (float v : values) {
      if (Float.isFinite(v)) {
        peak = Math.max(peak, diverging ? Math.abs(v) : v);
      }
    }
    BufferedImage heat = new BufferedImage(w, h, BufferedImage.TYPE_INT_ARGB_PRE);
    int[] pixels = new int[plane];
    for (int i = 0; i < plane; i++) {
      float v = Float.isFinite(values[i]) && peak > 0 ? values[i] / peak : 0;
      pixels[i] = diverging ? divergingColour(v) : sequentialColour(Math.max(0, v));
    }
    heat.setRGB(0, 0, w, h, pixels, 0, w);
    return heat;
  }

  private static int sequentialColour(float t) {
    // Dark red (low) through red and orange to yellow (high).
    return argb(t, 0.55 + 0.45 * Math.min(1, 2 * t), Math.max(0, 2 * t - 1), 0);
  }

  private static int divergingColour(float t) {
    return t >= 0 ? argb(t, 1, 0.15, 0.1) : argb(-t, 0.15, 0.35, 1);
  }

  // setRGB converts non-premultiplied ARGB into the premultiplied raster itself.
  private static int argb(float magnitude, double r, double g, double b) {
    int a = (int) Math.round(255 * MAX_ALPHA * Math.min(1, magnitude));
    return a << 24 | channel(r) << 16 | channel(g) << 8 | channel(b);
  }

  private static int channel(double v) {
    return (int) Math.round(255 * Math.max(0, Math.min(1, v)));
  }

  private static void drawLabel(Graphics2D g, String label, int height, Color colour) {
    if (label.isEmpty()) {
      return;
    }
    g.setRenderingHint(
        RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(9, height / 24)));
    FontMetrics fm = g.getFontMetrics();
    int pad = Math.max(2, fm.getHeight() / 5);
    g.setColor(LABEL_BACKGROUND);
    g.fillRect(0, 0, fm.stringWidth(label) + 2 * pad, fm.getHeight() + pad);
    g.setColor(colour);
    g.drawString(label, pad, pad / 2 + fm.getAscent());
  }
}
