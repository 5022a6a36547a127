package dev.salient.client.figures;

import dev.salient.grpc.Curve;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Snapshot;
import dev.salient.grpc.Tensor;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.awt.image.IndexColorModel;
import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageOutputStream;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Figures of the {@code nonlinear} and {@code blur_salient} methods (seed 000): the snapshot
 * strip (image and masked map at every level, the paper's Fig. 1), the trajectory plot
 * (target probability against % of pixels blurred, Fig. 2), an animated GIF of the trajectory
 * (from the frames' tensors, at most {@link #MAX_GIF_FRAMES} of them, in one shared palette),
 * the linear against nonlinear comparison at the last level (Fig. 3, written when the run was
 * {@code --param mode=both}), and for {@code blur_salient} the input beside its selectively
 * blurred version (Fig. 4).
 *
 * <p>Grey levels map the pixel range [min(0, lowest value), max(1, highest value)] of the figure
 * to black..white, which is the model's own range for images in [0, 1]. Each model pixel is drawn
 * as a square of {@link #scaleFor} screen pixels, so that panels are at least {@link #MIN_PANEL}
 * wide: a 28x28 model's 4 times larger, a 224x224 model's at their own size.
 */
public final class NonlinearFigures implements MethodFigures {
  static final int MIN_PANEL = 112;
  /** Frames in the trajectory GIF at most; longer runs are sampled evenly, first and last kept. */
  static final int MAX_GIF_FRAMES = 100;
  static final int GIF_DELAY_CENTISECONDS = 8;
  static final int GIF_LAST_DELAY_CENTISECONDS = 150;
  private static final Font FONT = new Font(Font.SANS_SERIF, Font.PLAIN, 12);

  @Override
  public boolean wantsFrameTensors() {
    return true;
  }

  @Override
  public boolean wantsSnapshots() {
    return true;
  }

  @Override
  public List<Path> write(Path outDir, String stem, Explanation explanation) throws IOException {
    Result result = explanation.result();
    String target = explanation.started().getTarget().getLabel();
    Map<String, List<Snapshot>> trajectories = byTrajectory(result.getSnapshotsList());
    Optional<Tensor> input = explanation.frames().stream()
        .filter(f -> f.getStep() == 0 && f.hasImage()).map(Frame::getImage).findFirst();
    List<Path> written = new ArrayList<>();
    if (!trajectories.isEmpty()) {
      written.add(writePng(outDir.resolve(stem + ".snapshots.png"),
          strip(trajectories, input, target)));
    }
    written.add(writeTrajectoryPlot(outDir.resolve(stem + ".trajectory.png"), result, target,
        primaryName(explanation)));
    List<Frame> withTensors = explanation.frames().stream()
        .filter(f -> f.hasImage() && f.hasMap()).toList();
    if (!withTensors.isEmpty()) {
      written.add(writeGif(outDir.resolve(stem + ".trajectory.gif"), withTensors, target));
    }
    if (trajectories.containsKey("linear") && trajectories.containsKey("nonlinear")) {
      written.add(writePng(outDir.resolve(stem + ".comparison.png"),
          comparison(trajectories, input, target)));
    }
    Optional<SaliencyMap> check = map(result, "salient_blurred");
    if (check.isPresent() && input.isPresent()) {
      written.add(writePng(outDir.resolve(stem + ".blur_check.png"),
          blurCheck(input.get(), check.get().getTensor(), result.getValuesMap(), target)));
    }
    return written;
  }

  /** The trajectory the unprefixed values belong to: linear for mode=linear, else nonlinear. */
  static String primaryName(Explanation explanation) {
    return "linear".equals(explanation.started().getParamsMap().get("mode"))
        ? "linear" : "nonlinear";
  }

  /** Snapshots by trajectory name (the label's first word: "nonlinear 20%"), in order. */
  static Map<String, List<Snapshot>> byTrajectory(List<Snapshot> snapshots) {
    Map<String, List<Snapshot>> groups = new LinkedHashMap<>();
    for (Snapshot s : snapshots) {
      String name = s.getLabel().contains(" ")
          ? s.getLabel().substring(0, s.getLabel().indexOf(' ')) : s.getLabel();
      groups.computeIfAbsent(name, k -> new ArrayList<>()).add(s);
    }
    return groups;
  }

  // ---- Fig. 1: the snapshot strip ----

  private static BufferedImage strip(Map<String, List<Snapshot>> trajectories,
      Optional<Tensor> input, String target) {
    List<Tensor> all = new ArrayList<>();
    input.ifPresent(all::add);
    trajectories.values().forEach(list -> list.forEach(s -> s.getMapsList().stream()
        .filter(m -> !m.getName().equals("salient")).forEach(m -> all.add(m.getTensor()))));
    float[] range = range(all);
    int columns = trajectories.values().stream().mapToInt(List::size).max().orElse(0)
        + (input.isPresent() ? 1 : 0);
    Tensor any = all.get(0);
    int scale = scaleFor(any);
    int cell = width(any) * scale;
    int cellH = height(any) * scale;
    int gap = 6;
    int caption = 30;
    int title = 22;
    int rowBlock = title + 2 * cellH + caption + gap;
    int width = gap + columns * (cell + gap);
    int height = 26 + trajectories.size() * rowBlock;
    BufferedImage out = canvas(width, height);
    Graphics2D g = graphics(out);
    g.drawString("target: " + target + "  (top: image, bottom: masked map)", gap, 16);
    int y = 26;
    for (Map.Entry<String, List<Snapshot>> e : trajectories.entrySet()) {
      g.drawString(e.getKey(), gap, y + 15);
      int x = gap;
      int top = y + title;
      if (input.isPresent()) {
        BufferedImage inputPicture = render(input.get(), range, scale);
        g.drawImage(inputPicture, x, top, null);
        g.drawImage(inputPicture, x, top + cellH, null);
        caption(g, "input", null, x, top + 2 * cellH, cell);
        x += cell + gap;
      }
      for (Snapshot s : e.getValue()) {
        g.drawImage(render(mapTensor(s, "image"), range, scale), x, top, null);
        g.drawImage(render(mapTensor(s, "masked"), range, scale), x, top + cellH, null);
        caption(g, s.getLabel().substring(e.getKey().length()).trim(),
            s.getValuesMap().get("target_probability"), x, top + 2 * cellH, cell);
        x += cell + gap;
      }
      y += rowBlock;
    }
    g.dispose();
    return out;
  }

  // ---- Fig. 2: the trajectory plot ----

  private static Path writeTrajectoryPlot(Path file, Result result, String target,
      String primary) throws IOException {
    XYSeriesCollection data = new XYSeriesCollection();
    for (Curve c : result.getCurvesList()) {
      if (!c.getName().endsWith("trajectory")) {
        continue;
      }
      String name = c.getName().equals("trajectory") ? primary
          : c.getName().substring(0, c.getName().length() - "_trajectory".length());
      XYSeries series = new XYSeries(name, false, true);
      for (int i = 0; i < c.getXCount(); i++) {
        series.add(c.getX(i), c.getY(i));
      }
      data.addSeries(series);
    }
    JFreeChart chart = ChartFactory.createXYLineChart(target, "% of pixels blurred",
        "probability of " + target, data, PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    plot.getRangeAxis().setRange(0, 1.02);
    plot.getDomainAxis().setRange(-2, 100);
    XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
    Color[] colours = {new Color(0xd6604d), new Color(0x4393c3)};
    for (int i = 0; i < data.getSeriesCount(); i++) {
      renderer.setSeriesPaint(i, colours[i % colours.length]);
      renderer.setSeriesStroke(i, new BasicStroke(1.5f));
      renderer.setSeriesShape(i, new java.awt.geom.Ellipse2D.Double(-2, -2, 4, 4));
    }
    plot.setRenderer(renderer);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    ValueMarker reached = new ValueMarker(0.95, Color.GRAY, new BasicStroke(1f,
        BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 1f, new float[] {4f, 4f}, 0f));
    plot.addRangeMarker(reached);
    ChartUtils.saveChartAsPNG(file.toFile(), chart, 640, 420);
    return file;
  }

  // ---- the animated trajectory ----

  private static Path writeGif(Path file, List<Frame> streamed, String target)
      throws IOException {
    List<Frame> frames = evenlySampled(streamed, MAX_GIF_FRAMES);
    List<Tensor> all = new ArrayList<>();
    frames.forEach(f -> {
      all.add(f.getImage());
      all.add(f.getMap());
    });
    float[] range = range(all);
    int scale = scaleFor(frames.get(0).getImage());
    SharedPalette palette = new SharedPalette();
    frames.forEach(f -> palette.add(gifFrame(f, range, scale, target)));
    ImageWriter writer = ImageIO.getImageWritersByFormatName("gif").next();
    Files.deleteIfExists(file);
    try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
      writer.setOutput(out);
      writer.prepareWriteSequence(null);
      for (int i = 0; i < frames.size(); i++) {
        BufferedImage frame = palette.animationFrame(i);
        int delay = i == frames.size() - 1 ? GIF_LAST_DELAY_CENTISECONDS : GIF_DELAY_CENTISECONDS;
        writer.writeToSequence(new IIOImage(frame, null, gifMetadata(writer, frame, delay, i == 0)),
            null);
      }
      writer.endWriteSequence();
    } finally {
      writer.dispose();
    }
    return file;
  }

  /** One step of the animation: image beside masked map, step, % blurred and probability. */
  private static BufferedImage gifFrame(Frame f, float[] range, int scale, String target) {
    BufferedImage image = render(f.getImage(), range, scale);
    BufferedImage masked = render(f.getMap(), range, scale);
    int gap = 4;
    int w = image.getWidth() * 2 + 3 * gap;
    BufferedImage frame = canvas(w, image.getHeight() + 2 * gap + 34);
    Graphics2D g = graphics(frame);
    g.drawImage(image, gap, gap, null);
    g.drawImage(masked, 2 * gap + image.getWidth(), gap, null);
    double fraction = f.getValuesMap().getOrDefault("blurred_fraction", 0.0);
    g.drawString(String.format(Locale.ROOT, "step %d  %s blurred", f.getStep(),
        percent(fraction)), gap, image.getHeight() + gap + 14);
    g.drawString(String.format(Locale.ROOT, "p(%s) = %.3f", target,
        f.getTargetProbability()), gap, image.getHeight() + gap + 29);
    g.dispose();
    return frame;
  }

  /**
   * At most {@code max} of {@code items}, evenly spaced, the first and the last always among
   * them; all of them when there are no more than {@code max}.
   */
  static <T> List<T> evenlySampled(List<T> items, int max) {
    if (items.size() <= max) {
      return items;
    }
    List<T> sampled = new ArrayList<>(max);
    for (int i = 0; i < max; i++) {
      sampled.add(items.get((int) Math.round(i * (items.size() - 1) / (double) (max - 1))));
    }
    return sampled;
  }

  /**
   * Frame delay, the palette's transparent entry, and on the first frame the NETSCAPE2.0
   * extension that loops forever.
   */
  private static IIOMetadata gifMetadata(ImageWriter writer, BufferedImage image, int delay,
      boolean first) throws IOException {
    ImageWriteParam param = writer.getDefaultWriteParam();
    // Not createFromRenderedImage: for a TYPE_BYTE_INDEXED image it gives that type's default
    // palette, and the frame's indices would be written against the wrong colours.
    IIOMetadata metadata = writer.getDefaultImageMetadata(new ImageTypeSpecifier(image), param);
    String format = metadata.getNativeMetadataFormatName();
    IIOMetadataNode root = (IIOMetadataNode) metadata.getAsTree(format);
    IIOMetadataNode control = child(root, "GraphicControlExtension");
    // Each frame stays under the next, whose transparent pixels show it through.
    control.setAttribute("disposalMethod", "doNotDispose");
    control.setAttribute("userInputFlag", "FALSE");
    int transparent = image.getColorModel() instanceof IndexColorModel indexed
        ? indexed.getTransparentPixel() : -1;
    control.setAttribute("transparentColorFlag", transparent >= 0 ? "TRUE" : "FALSE");
    control.setAttribute("delayTime", Integer.toString(delay));
    control.setAttribute("transparentColorIndex", Integer.toString(Math.max(0, transparent)));
    if (first) {
      IIOMetadataNode extensions = child(root, "ApplicationExtensions");
      IIOMetadataNode loop = new IIOMetadataNode("ApplicationExtension");
      loop.setAttribute("applicationID", "NETSCAPE");
      loop.setAttribute("authenticationCode", "2.0");
      loop.setUserObject(new byte[] {1, 0, 0});
      extensions.appendChild(loop);
    }
    metadata.setFromTree(format, root);
    return metadata;
  }

  private static IIOMetadataNode child(IIOMetadataNode root, String name) {
    for (int i = 0; i < root.getLength(); i++) {
      if (root.item(i).getNodeName().equalsIgnoreCase(name)) {
        return (IIOMetadataNode) root.item(i);
      }
    }
    IIOMetadataNode node = new IIOMetadataNode(name);
    root.appendChild(node);
    return node;
  }

  // ---- Fig. 3: linear against nonlinear ----

  private static BufferedImage comparison(Map<String, List<Snapshot>> trajectories,
      Optional<Tensor> input, String target) {
    Snapshot linear = last(trajectories.get("linear"));
    Snapshot nonlinear = last(trajectories.get("nonlinear"));
    List<Tensor> panels = new ArrayList<>();
    List<String> labels = new ArrayList<>();
    List<Double> probabilities = new ArrayList<>();
    if (input.isPresent()) {
      panels.add(input.get());
      labels.add("input");
      probabilities.add(null);
    }
    for (Snapshot s : List.of(linear, nonlinear)) {
      panels.add(mapTensor(s, "masked"));
      labels.add(s.getLabel());
      probabilities.add(s.getValuesMap().get("target_probability"));
    }
    return panelRow("target: " + target + "  (masked maps at the last level)", panels, labels,
        probabilities);
  }

  // ---- Fig. 4: the selective blur check ----

  private static BufferedImage blurCheck(Tensor input, Tensor blurred, Map<String, Double> values,
      String target) {
    return panelRow(String.format(Locale.ROOT, "%s: %s of pixels (the salient ones) blurred",
            target, percent(values.getOrDefault("salient_fraction", 0.0))),
        List.of(input, blurred), List.of("input", "salient blurred"),
        List.of(values.get("probability_before_blur"), values.get("probability_after_blur")));
  }

  private static BufferedImage panelRow(String heading, List<Tensor> panels, List<String> labels,
      List<Double> probabilities) {
    float[] range = range(panels);
    Tensor any = panels.get(0);
    int scale = scaleFor(any);
    int cell = width(any) * scale * 3 / 2;
    int cellH = height(any) * scale * 3 / 2;
    int gap = 8;
    int width = Math.max(gap + panels.size() * (cell + gap), 360);
    BufferedImage out = canvas(width, 26 + cellH + 34);
    Graphics2D g = graphics(out);
    g.drawString(heading, gap, 16);
    for (int i = 0; i < panels.size(); i++) {
      int x = gap + i * (cell + gap);
      g.drawImage(render(panels.get(i), range, scale), x, 24, cell, cellH, null);
      caption(g, labels.get(i), probabilities.get(i), x, 24 + cellH, cell);
    }
    g.dispose();
    return out;
  }

  // ---- drawing helpers ----

  private static Snapshot last(List<Snapshot> snapshots) {
    return snapshots.get(snapshots.size() - 1);
  }

  private static Optional<SaliencyMap> map(Result result, String name) {
    return result.getMapsList().stream().filter(m -> m.getName().equals(name)).findFirst();
  }

  private static Tensor mapTensor(Snapshot s, String name) {
    return s.getMapsList().stream().filter(m -> m.getName().equals(name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("snapshot " + s.getLabel()
            + " has no map " + name))
        .getTensor();
  }

  private static void caption(Graphics2D g, String label, Double probability, int x, int y,
      int width) {
    FontMetrics m = g.getFontMetrics();
    g.drawString(label, x + (width - m.stringWidth(label)) / 2, y + 13);
    if (probability != null) {
      String p = String.format(Locale.ROOT, "p=%.3f", probability);
      g.drawString(p, x + (width - m.stringWidth(p)) / 2, y + 27);
    }
  }

  static String percent(double fraction) {
    double pct = fraction * 100;
    return (pct == Math.rint(pct) ? Long.toString(Math.round(pct))
        : String.format(Locale.ROOT, "%.1f", pct)) + "%";
  }

  private static BufferedImage canvas(int width, int height) {
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    g.dispose();
    return image;
  }

  private static Graphics2D graphics(BufferedImage image) {
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING,
        RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION,
        RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
    g.setFont(FONT);
    g.setColor(Color.BLACK);
    return g;
  }

  /** The values of a float32 little-endian tensor. */
  static float[] floats(Tensor t) {
    FloatBuffer buffer = t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN)
        .asFloatBuffer();
    float[] values = new float[buffer.remaining()];
    buffer.get(values);
    return values;
  }

  /** [min(0, lowest), max(1, highest)] over {@code tensors}. */
  static float[] range(List<Tensor> tensors) {
    float lo = 0;
    float hi = 1;
    for (Tensor t : tensors) {
      for (float v : floats(t)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    return new float[] {lo, hi};
  }

  /** Screen pixels per model pixel: the least that makes a panel {@link #MIN_PANEL} wide. */
  static int scaleFor(Tensor t) {
    int side = Math.max(height(t), width(t));
    return Math.max(1, (MIN_PANEL + side - 1) / side);
  }

  private static int height(Tensor t) {
    return (int) t.getShape(t.getShapeCount() - 2);
  }

  private static int width(Tensor t) {
    return (int) t.getShape(t.getShapeCount() - 1);
  }

  /** A [C, H, W] (C = 1 or 3) or [H, W] tensor as a picture, {@code scale} times larger. */
  static BufferedImage render(Tensor t, float[] range, int scale) {
    int h = height(t);
    int w = width(t);
    int channels = t.getShapeCount() == 3 ? (int) t.getShape(0) : 1;
    float[] v = floats(t);
    BufferedImage image = new BufferedImage(w * scale, h * scale, BufferedImage.TYPE_INT_RGB);
    int[] pixels = ((DataBufferInt) image.getRaster().getDataBuffer()).getData();
    int stride = w * scale;
    double levelsPerUnit = 255 / (double) (range[1] - range[0]);
    for (int y = 0; y < h; y++) {
      int rowStart = y * scale * stride;
      for (int x = 0; x < w; x++) {
        int p = y * w + x;
        int r = grey(v[p], range[0], levelsPerUnit);
        int g = channels == 3 ? grey(v[h * w + p], range[0], levelsPerUnit) : r;
        int b = channels == 3 ? grey(v[2 * h * w + p], range[0], levelsPerUnit) : r;
        int rgb = (r << 16) | (g << 8) | b;
        Arrays.fill(pixels, rowStart + x * scale, rowStart + (x + 1) * scale, rgb);
      }
      for (int dy = 1; dy < scale; dy++) {
        System.arraycopy(pixels, rowStart, pixels, rowStart + dy * stride, stride);
      }
    }
    return image;
  }

  /** The grey level 0..255 of {@code v}, {@code lo} being black. */
  private static int grey(float v, float lo, double levelsPerUnit) {
    double level = (v - lo) * levelsPerUnit;
    return level <= 0 ? 0 : level >= 255 ? 255 : (int) (level + 0.5);
  }

  private static Path writePng(Path file, BufferedImage image) throws IOException {
    ImageIO.write(image, "png", file.toFile());
    return file;
  }
}
