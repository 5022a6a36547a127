package dev.salient.client.figures;

import dev.salient.grpc.ClassScore;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * One picture of several methods' results on the same image: a row per method, its label at the
 * left, then each map's overlay (as the server rendered it) with the map's name above.
 */
public final class MethodPanel {
  /** Overlays are scaled to fit a square of this many pixels. */
  static final int TILE = 224;

  private static final int LABEL_WIDTH = 200;
  private static final int TITLE_HEIGHT = 22;
  private static final int GAP = 8;

  private MethodPanel() {}

  /**
   * Writes {@code <stem>.panel.png} into {@code outDir}; returns its path, or null when no
   * result carried an overlay to show.
   */
  public static Path write(Path outDir, String stem, List<Explanation> explanations)
      throws IOException {
    List<List<Tile>> rows = new ArrayList<>();
    int columns = 0;
    for (Explanation e : explanations) {
      List<Tile> tiles = tiles(e.result());
      rows.add(tiles);
      columns = Math.max(columns, tiles.size());
    }
    if (columns == 0) {
      return null;
    }
    int rowHeight = TITLE_HEIGHT + TILE + GAP;
    int width = LABEL_WIDTH + columns * (TILE + GAP) + GAP;
    int height = rows.size() * rowHeight + GAP;
    BufferedImage panel = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = panel.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING,
          RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      // Overlays have crisp enlarged pixels; keep them crisp when scaling.
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION,
          RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
      for (int r = 0; r < rows.size(); r++) {
        int top = GAP + r * rowHeight;
        drawLabel(g, explanations.get(r), GAP, top + TITLE_HEIGHT);
        List<Tile> tiles = rows.get(r);
        for (int c = 0; c < tiles.size(); c++) {
          int left = LABEL_WIDTH + c * (TILE + GAP);
          drawTile(g, tiles.get(c), left, top);
        }
      }
    } finally {
      g.dispose();
    }
    Path file = outDir.resolve(stem + ".panel.png");
    if (!ImageIO.write(panel, "png", file.toFile())) {
      throw new IOException("no PNG writer in this JVM");
    }
    return file;
  }

  private record Tile(String name, String scale, BufferedImage image) {}

  private static List<Tile> tiles(Result result) throws IOException {
    List<Tile> tiles = new ArrayList<>();
    for (SaliencyMap map : result.getMapsList()) {
      if (map.getOverlayPng().isEmpty()) {
        continue;
      }
      BufferedImage image =
          ImageIO.read(new ByteArrayInputStream(map.getOverlayPng().toByteArray()));
      if (image == null) {
        throw new IOException("the overlay of map " + map.getName() + " is not a PNG");
      }
      tiles.add(new Tile(map.getName(), map.getColourScale(), image));
    }
    return tiles;
  }

  private static void drawLabel(Graphics2D g, Explanation e, int left, int top) {
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
    String method = e.started() == null ? "?" : e.started().getMethod();
    g.drawString(method, left, top + 16);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    if (e.started() != null) {
      ClassScore target = e.started().getTarget();
      g.drawString("target " + target.getLabel(), left, top + 36);
      g.drawString(String.format(Locale.ROOT, "p = %.3f", target.getProbability()), left,
          top + 52);
    }
    g.drawString(String.format(Locale.ROOT, "%d passes, %d ms", e.result().getPasses(),
        e.result().getElapsedMs()), left, top + 68);
  }

  private static void drawTile(Graphics2D g, Tile tile, int left, int top) {
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    g.drawString(tile.name() + " (" + tile.scale().toLowerCase(Locale.ROOT) + ")", left,
        top + TITLE_HEIGHT - 6);
    BufferedImage image = tile.image();
    double scale = Math.min((double) TILE / image.getWidth(), (double) TILE / image.getHeight());
    int w = (int) Math.round(image.getWidth() * scale);
    int h = (int) Math.round(image.getHeight() * scale);
    g.drawImage(image, left + (TILE - w) / 2, top + TITLE_HEIGHT + (TILE - h) / 2, w, h, null);
  }
}
