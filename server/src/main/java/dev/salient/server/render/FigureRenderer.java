package dev.salient.server.render;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Renders one map as a stand-alone figure: a title, the {@link OverlayRenderer} overlay unchanged,
 * and a vertical colour bar with tick labels in the map's own values, as a PNG.
 *
 * <p>The bar is drawn in equal steps of colour, exactly as the overlay colours a pixel, so a tick
 * at height p (0 at the bottom, 1 at the top) stands for the value max * p^(1 / {@link
 * OverlayRenderer#GAMMA}): with the gamma 0.5, the ticks at 0, 1/4, 1/2, 3/4 and 1 of the bar read
 * 0, max/16, max/4, 9 max/16 and max. A diverging bar runs from -max to +max with 0, the scale's
 * neutral colour, in the middle. Java2D, headless: it needs no display, only the fonts a JDK finds.
 */
public final class FigureRenderer {

  /** Blank space around the parts of the figure, in pixels. */
  static final int MARGIN = 14;

  /** Width of the colour bar, in pixels. */
  static final int BAR_WIDTH = 18;

  /** The bar is at least this tall, so its labels stay apart beside a flat overlay. */
  static final int MIN_BAR_HEIGHT = 160;

  /** Height positions of the ticks on the bar, in equal steps of colour from bottom to top. */
  private static final double[] TICK_POSITIONS = {0, 0.25, 0.5, 0.75, 1};

  private static final Color INK = new Color(0x222222);
  private static final Color FAINT_INK = new Color(0x555555);
  private static final Font TITLE = new Font(Font.SANS_SERIF, Font.BOLD, 15);
  private static final Font SUBTITLE = new Font(Font.SANS_SERIF, Font.PLAIN, 13);
  private static final Font LABEL = new Font(Font.SANS_SERIF, Font.PLAIN, 12);
  private static final int TICK_LENGTH = 4;
  private static final int GAP = 10;

  private FigureRenderer() {}

  /**
   * What the title says: the method, the map's name and, when known, the class explained.
   *
   * @param targetLabel the class explained, or null when unknown
   * @param targetProbability the model's probability for it, or NaN when unknown
   */
  public record Title(String method, String map, String targetLabel, double targetProbability) {
    /** Checks that the method and map are named. */
    public Title {
      Objects.requireNonNull(method, "method");
      Objects.requireNonNull(map, "map");
    }

    /** The title's first line (method and map) and second (the target, empty when unknown). */
    List<String> lines() {
      String target = "";
      if (targetLabel != null && !targetLabel.isEmpty()) {
        target = "target: " + targetLabel;
        if (!Double.isNaN(targetProbability)) {
          target += String.format(Locale.ROOT, " (p = %.3f)", targetProbability);
        }
      }
      return List.of(method.isEmpty() ? map : method + ": " + map, target);
    }
  }

  /** A tick of the colour bar: its height on the bar (0 bottom, 1 top) and the value it reads. */
  record Tick(double position, double value) {}

  /** Where the parts of a figure lie, in pixels from its top left corner. */
  record Layout(
      int width, int height, int overlayX, int overlayY, int overlayWidth, int overlayHeight,
      int barX, int barY, int barHeight, int titleHeight) {}

  /** A drawn figure and where its parts lie. */
  record Figure(BufferedImage image, Layout layout) {}

  /** The figure of {@code map} over the input image, as a PNG. */
  public static byte[] figurePng(
      float[] imageChw, InputSpec spec, FloatTensor map, ColourScale scale, Title title) {
    return OverlayRenderer.encode(figure(imageChw, spec, map, scale, title).image());
  }

  /** The figure as an image (what {@link #figurePng} encodes), with its layout. */
  static Figure figure(
      float[] imageChw, InputSpec spec, FloatTensor map, ColourScale scale, Title title) {
    Objects.requireNonNull(title, "title");
    OverlayRenderer.Overlay overlay = OverlayRenderer.overlay(imageChw, spec, map, scale);
    List<Tick> ticks = ticks(scale, overlay.max());
    List<String> labels = ticks.stream().map(t -> label(t.value())).toList();
    String footnote = footnote(scale);
    List<String> lines = title.lines();

    // A scratch image to measure text before the figure's size is known.
    Graphics2D probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
    FontMetrics titleMetrics = probe.getFontMetrics(TITLE);
    FontMetrics subtitleMetrics = probe.getFontMetrics(SUBTITLE);
    FontMetrics labelMetrics = probe.getFontMetrics(LABEL);
    int labelWidth = 0;
    for (String s : labels) {
      labelWidth = Math.max(labelWidth, labelMetrics.stringWidth(s));
    }
    probe.dispose();

    int overlayW = overlay.image().getWidth();
    int overlayH = overlay.image().getHeight();
    int contentWidth = overlayW + GAP + BAR_WIDTH + TICK_LENGTH + 4 + labelWidth;
    int textWidth = Math.max(Math.max(titleMetrics.stringWidth(lines.get(0)),
        subtitleMetrics.stringWidth(lines.get(1))), labelMetrics.stringWidth(footnote));
    int width = 2 * MARGIN + Math.max(contentWidth, textWidth);
    int titleHeight = titleMetrics.getHeight()
        + (lines.get(1).isEmpty() ? 0 : subtitleMetrics.getHeight());
    int overlayY = MARGIN + titleHeight + GAP;
    int barHeight = Math.max(overlayH, MIN_BAR_HEIGHT);
    int height = overlayY + barHeight + GAP + labelMetrics.getHeight() + MARGIN;
    Layout layout = new Layout(width, height, MARGIN, overlayY, overlayW, overlayH,
        MARGIN + overlayW + GAP, overlayY, barHeight, titleHeight);

    BufferedImage figure = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = figure.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING,
          RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(INK);
      g.setFont(TITLE);
      int baseline = MARGIN + titleMetrics.getAscent();
      g.drawString(lines.get(0), MARGIN, baseline);
      if (!lines.get(1).isEmpty()) {
        g.setFont(SUBTITLE);
        g.drawString(lines.get(1), MARGIN,
            baseline + titleMetrics.getDescent() + subtitleMetrics.getAscent());
      }
      g.drawImage(overlay.image(), layout.overlayX(), layout.overlayY(), null);
      drawBar(g, figure, layout, scale);
      g.setFont(LABEL);
      g.setColor(INK);
      g.setStroke(new BasicStroke(1));
      int tickX = layout.barX() + BAR_WIDTH;
      for (int i = 0; i < ticks.size(); i++) {
        int y = barRow(layout, ticks.get(i).position());
        g.drawLine(tickX, y, tickX + TICK_LENGTH - 1, y);
        int textY = y + labelMetrics.getAscent() / 2 - 1;
        textY = Math.max(layout.barY() + labelMetrics.getAscent() - 2, textY);
        textY = Math.min(layout.barY() + layout.barHeight() + labelMetrics.getDescent(), textY);
        g.drawString(labels.get(i), tickX + TICK_LENGTH + 4, textY);
      }
      g.setColor(FAINT_INK);
      g.drawString(footnote, MARGIN,
          layout.barY() + barHeight + GAP + labelMetrics.getAscent());
    } finally {
      g.dispose();
    }
    return new Figure(figure, layout);
  }

  /** The bar's pixel row for a height position p (0 bottom, 1 top). */
  static int barRow(Layout layout, double position) {
    return layout.barY() + (int) Math.round((1 - position) * (layout.barHeight() - 1));
  }

  /** The colour-scale value (in [-1, 1] after gamma, as OverlayRenderer colours) at a bar row. */
  static float barValue(ColourScale scale, Layout layout, int row) {
    double p = 1 - (row - layout.barY()) / (double) (layout.barHeight() - 1);
    return (float) (scale == ColourScale.DIVERGING ? 2 * p - 1 : p);
  }

  private static void drawBar(Graphics2D g, BufferedImage figure, Layout layout,
      ColourScale scale) {
    for (int row = layout.barY(); row < layout.barY() + layout.barHeight(); row++) {
      int rgb = scale.rgb(barValue(scale, layout, row));
      for (int x = layout.barX(); x < layout.barX() + BAR_WIDTH; x++) {
        figure.setRGB(x, row, rgb);
      }
    }
    g.setColor(FAINT_INK);
    g.drawRect(layout.barX() - 1, layout.barY() - 1, BAR_WIDTH + 1, layout.barHeight() + 1);
  }

  /**
   * The bar's ticks, bottom to top: at equal steps of colour, each labelled with the value the
   * overlay gives that colour; for the diverging scale mirrored below 0. A map of zeros (max 0)
   * gets one tick, 0.
   */
  static List<Tick> ticks(ColourScale scale, float max) {
    List<Tick> ticks = new ArrayList<>();
    if (!(max > 0)) {
      ticks.add(new Tick(scale == ColourScale.DIVERGING ? 0.5 : 0, 0));
      return ticks;
    }
    for (double p : TICK_POSITIONS) {
      double value = max * Math.pow(p, 1 / OverlayRenderer.GAMMA);
      if (scale == ColourScale.DIVERGING) {
        if (p > 0) {
          ticks.add(0, new Tick(0.5 - p / 2, -value));
        }
        ticks.add(new Tick(0.5 + p / 2, value));
      } else {
        ticks.add(new Tick(p, value));
      }
    }
    return ticks;
  }

  /** A value with three significant digits, in plain notation unless very small or large. */
  static String label(double v) {
    if (v == 0) {
      return "0";
    }
    double a = Math.abs(v);
    if (a < 1e-3 || a >= 1e5) {
      return String.format(Locale.ROOT, "%.2e", v);
    }
    return new BigDecimal(v).round(new MathContext(3)).stripTrailingZeros().toPlainString();
  }

  /** Says what the bar's colours stand for, gamma included, so the uneven ticks are expected. */
  private static String footnote(ColourScale scale) {
    String gamma = "colour = (|v| / max)^" + OverlayRenderer.GAMMA;
    return scale == ColourScale.DIVERGING ? "blue < 0 < red, " + gamma : "|value|, " + gamma;
  }
}
