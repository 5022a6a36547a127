package dev.salient.client.figures;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.Curve;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Snapshot;
import dev.salient.grpc.Started;
import dev.salient.grpc.Tensor;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The nonlinear method's figures from a canned explanation (mode=both, 2 levels, 2 frames). */
class NonlinearFiguresTest {
  static final int SIDE = 4;

  @TempDir Path dir;

  static Tensor tensor(float value, long... shape) {
    int n = 1;
    for (long d : shape) {
      n *= (int) d;
    }
    ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      b.putFloat(value * i / n);
    }
    b.flip();
    Tensor.Builder t = Tensor.newBuilder().setData(ByteString.copyFrom(b));
    for (long d : shape) {
      t.addShape(d);
    }
    return t.build();
  }

  /** A [3, SIDE, SIDE] tensor of one colour. */
  static Tensor channels(float red, float green, float blue) {
    ByteBuffer b = ByteBuffer.allocate(4 * 3 * SIDE * SIDE).order(ByteOrder.LITTLE_ENDIAN);
    for (float value : new float[] {red, green, blue}) {
      for (int i = 0; i < SIDE * SIDE; i++) {
        b.putFloat(value);
      }
    }
    b.flip();
    return Tensor.newBuilder().setData(ByteString.copyFrom(b)).addShape(3).addShape(SIDE)
        .addShape(SIDE).build();
  }

  static SaliencyMap map(String name, Tensor t) {
    return SaliencyMap.newBuilder().setName(name).setTensor(t).build();
  }

  static Snapshot snapshot(String label, double p) {
    return Snapshot.newBuilder().setLabel(label).putValues("target_probability", p)
        .addMaps(map("masked", tensor(1f, 1, SIDE, SIDE)))
        .addMaps(map("image", tensor(0.5f, 1, SIDE, SIDE)))
        .addMaps(map("salient", tensor(1f, SIDE, SIDE))).build();
  }

  static Explanation explanation(boolean both, boolean check) {
    Started started = Started.newBuilder().setMethod(check ? "blur_salient" : "nonlinear")
        .setTarget(ClassScore.newBuilder().setLabel("Shirt").setProbability(0.1f))
        .putParams("mode", both ? "both" : "nonlinear").build();
    List<Frame> frames = new ArrayList<>();
    for (int step = 0; step < 2; step++) {
      frames.add(Frame.newBuilder().setStep(step).setTargetProbability(0.1f + step)
          .putValues("blurred_fraction", 0.05 * step)
          .setImage(tensor(1f, 1, SIDE, SIDE)).setMap(tensor(0.7f, 1, SIDE, SIDE)).build());
    }
    Result.Builder result = Result.newBuilder()
        .addCurves(Curve.newBuilder().setName("trajectory").addX(0).addX(5).addY(0.1).addY(0.9))
        .addSnapshots(snapshot("nonlinear 0%", 0.5)).addSnapshots(snapshot("nonlinear 95%", 0.9));
    if (both) {
      result.addCurves(Curve.newBuilder().setName("linear_trajectory").addX(0).addX(5)
              .addY(0.1).addY(0.3))
          .addSnapshots(snapshot("linear 0%", 0.2)).addSnapshots(snapshot("linear 95%", 0.3));
    }
    if (check) {
      result.addMaps(map("salient_blurred", tensor(0.3f, 1, SIDE, SIDE)))
          .putValues("probability_before_blur", 0.1).putValues("probability_after_blur", 0.05)
          .putValues("salient_fraction", 0.05);
    }
    return new Explanation(started, frames, result.build());
  }

  @Test
  void modeBothWritesStripPlotAnimationAndComparison() throws Exception {
    List<Path> files = new NonlinearFigures().write(dir, "shirt.nonlinear",
        explanation(true, false));

    assertEquals(List.of("shirt.nonlinear.snapshots.png", "shirt.nonlinear.trajectory.png",
            "shirt.nonlinear.trajectory.gif", "shirt.nonlinear.comparison.png"),
        files.stream().map(p -> p.getFileName().toString()).toList());
    BufferedImage strip = ImageIO.read(files.get(0).toFile());
    // Two trajectories, each a row of images over a row of masked maps, input + 2 levels wide.
    assertTrue(strip.getWidth() >= 3 * NonlinearFigures.MIN_PANEL, "strip width");
    assertTrue(strip.getHeight() >= 4 * NonlinearFigures.MIN_PANEL, "strip height");
    BufferedImage plot = ImageIO.read(files.get(1).toFile());
    assertEquals(640, plot.getWidth());
  }

  @Test
  void theAnimationHasOneLoopingFramePerStreamedFrame() throws Exception {
    Path gif = gif(explanation(false, false));

    ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
    try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
      reader.setInput(in);
      assertEquals(2, reader.getNumImages(true));
      IIOMetadataNode first = (IIOMetadataNode) reader.getImageMetadata(0)
          .getAsTree("javax_imageio_gif_image_1.0");
      IIOMetadataNode loop = (IIOMetadataNode) first.getElementsByTagName("ApplicationExtension")
          .item(0);
      assertEquals("NETSCAPE", loop.getAttribute("applicationID"));
    } finally {
      reader.dispose();
    }
  }

  @Test
  void panelsAreAtLeastMinPanelWideSoA224ModelIsDrawnPixelForPixel() {
    assertEquals(4, NonlinearFigures.scaleFor(tensor(1f, 1, 28, 28)));
    assertEquals(1, NonlinearFigures.scaleFor(tensor(1f, 3, 224, 224)));
    assertEquals(2, NonlinearFigures.scaleFor(tensor(1f, 3, 64, 64)));
  }

  @Test
  void aLongRunIsAnimatedInAtMostMaxGifFrames() throws Exception {
    int streamed = 3 * NonlinearFigures.MAX_GIF_FRAMES;
    Explanation run = explanation(false, false);
    List<Frame> frames = new ArrayList<>();
    for (int step = 0; step < streamed; step++) {
      frames.add(run.frames().get(0).toBuilder().setStep(step).build());
    }

    Path gif = gif(new Explanation(run.started(), frames, run.result()));

    assertEquals(NonlinearFigures.MAX_GIF_FRAMES, frameCount(gif));
  }

  @Test
  void evenSamplingKeepsTheFirstAndTheLastAndSpacesTheRest() {
    List<Integer> steps = List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10);

    assertEquals(List.of(0, 5, 10), NonlinearFigures.evenlySampled(steps, 3));
    assertEquals(List.of(0, 2, 4, 6, 8, 10), NonlinearFigures.evenlySampled(steps, 6));
    assertEquals(steps, NonlinearFigures.evenlySampled(steps, 11));
  }

  @Test
  void colourFramesKeepTheirColoursInTheAnimation() throws Exception {
    Explanation run = explanation(false, false);
    Frame red = run.frames().get(0).toBuilder()
        .setImage(channels(1f, 0f, 0f)).setMap(channels(0f, 0f, 1f)).build();
    Frame green = red.toBuilder().setStep(1).setImage(channels(0f, 1f, 0f)).build();

    Path gif = gif(new Explanation(run.started(), List.of(red, green), run.result()));

    int panel = SIDE * NonlinearFigures.scaleFor(red.getImage());
    BufferedImage first = frame(gif, 0);
    assertEquals(0xff0000, first.getRGB(panel / 2, panel / 2) & 0xffffff, "image: red");
    assertEquals(0x0000ff, first.getRGB(panel + panel / 2, panel / 2) & 0xffffff, "map: blue");
    // The second frame is drawn over the first: what did not change is left transparent.
    BufferedImage second = frame(gif, 1);
    assertEquals(0x00ff00, second.getRGB(panel / 2, panel / 2) & 0xffffff, "image: green");
    assertEquals(0, second.getRGB(panel + panel / 2, panel / 2) >>> 24, "map: as before");
  }

  @Test
  void aSingleTrajectoryHasNoComparisonAndBlurSalientAddsItsCheck() throws Exception {
    List<String> names = new NonlinearFigures().write(dir, "y", explanation(false, true))
        .stream().map(p -> p.getFileName().toString()).toList();

    assertEquals(List.of("y.snapshots.png", "y.trajectory.png", "y.trajectory.gif",
        "y.blur_check.png"), names);
    assertTrue(Files.size(dir.resolve("y.blur_check.png")) > 0);
  }

  private Path gif(Explanation explanation) throws Exception {
    return new NonlinearFigures().write(dir, "x", explanation).stream()
        .filter(p -> p.toString().endsWith(".gif")).findFirst().orElseThrow();
  }

  private static BufferedImage frame(Path gif, int index) throws Exception {
    ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
    try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
      reader.setInput(in);
      return reader.read(index);
    } finally {
      reader.dispose();
    }
  }

  private static int frameCount(Path gif) throws Exception {
    ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
    try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
      reader.setInput(in);
      return reader.getNumImages(true);
    } finally {
      reader.dispose();
    }
  }
}
