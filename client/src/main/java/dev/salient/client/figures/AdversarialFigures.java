package dev.salient.client.figures;

import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.imageio.ImageIO;

/**
 * The figure of an adversarial explanation (geosal, fgsm, bim), as in seed 002's figs. 19-20:
 * one row of panels, left to right: the original image, the adversarial example, the signed
 * difference (blue darker, red brighter) and the importance (inferno). For GeoSal against every
 * competitor, one more row per competitor Q: its adversarial example, x'_Q - x and |x'_Q - x|.
 * Written as {@code <stem>.figure.png}.
 */
public final class AdversarialFigures implements MethodFigures {
  private static final int MIN_PANEL = 168;
  private static final int GAP = 6;
  private static final int WHITE = 0xffffff;
  private static final int[] RD_BU = {
    0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b
  };
  private static final int[] INFERNO = {
    0x000004, 0x0b0724, 0x210c4a, 0x3d0965, 0x57106e, 0x71196e, 0x8a226a, 0xa32c61, 0xbc3754,
    0xd04545, 0xe35933, 0xf1711f, 0xf98c0a, 0xfcaa0f, 0xf9c932, 0xf2e865, 0xfcffa4
  };

  /** The frames' images give the original, needed for the first panel. */
  @Override
  public boolean wantsFrameTensors() {
    return true;
  }

  @Override
  public List<Path> write(Path outDir, String stem, Explanation explanation) throws IOException {
    Optional<SaliencyMap> adversarial = map(explanation, "adversarial");
    Optional<SaliencyMap> difference = map(explanation, "difference");
    Optional<SaliencyMap> importance = map(explanation, "importance");
    if (adversarial.isEmpty() || difference.isEmpty() || importance.isEmpty()) {
      return List.of();
    }
    Image x1 = Image.of(adversarial.get().getTensor());
    Image diff = Image.of(difference.get().getTensor());
    Image x0 = original(explanation).orElseGet(() -> x1.minus(diff));
    List<Panel[]> rows = new ArrayList<>();
    rows.add(new Panel[] {
      Panel.picture(x0, x0, x1), Panel.picture(x1, x0, x1), Panel.diverging(diff),
      Panel.sequential(Image.of(importance.get().getTensor()))
    });
    for (SaliencyMap m : explanation.result().getMapsList()) {
      if (m.getName().startsWith("adversarial_")) {
        Image xq = Image.of(m.getTensor());
        Image dq = xq.minus(x0);
        rows.add(new Panel[] {
          null, Panel.picture(xq, x0, xq), Panel.diverging(dq), Panel.sequential(dq.abs())
        });
      }
    }
    Path file = outDir.resolve(stem + ".figure.png");
    ImageIO.write(compose(rows, x0.height, x0.width), "png", file.toFile());
    return List.of(file);
  }

  private static Optional<SaliencyMap> map(Explanation e, String name) {
    return e.result().getMapsList().stream().filter(m -> m.getName().equals(name)).findFirst();
  }

  /** Every frame carries its candidate x_k and x_k - x: their difference is the original. */
  private static Optional<Image> original(Explanation e) {
    return e.frames().stream().filter(f -> f.hasImage() && f.hasMap()).findFirst()
        .map(f -> Image.of(f.getImage()).minus(Image.of(f.getMap())));
  }

  private static BufferedImage compose(List<Panel[]> rows, int h, int w) {
    int scale = Math.max(1, (MIN_PANEL + Math.max(h, w) - 1) / Math.max(h, w));
    int cols = rows.get(0).length;
    int width = cols * w * scale + (cols + 1) * GAP;
    int height = rows.size() * h * scale + (rows.size() + 1) * GAP;
    BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        out.setRGB(x, y, WHITE);
      }
    }
    for (int r = 0; r < rows.size(); r++) {
      for (int c = 0; c < cols; c++) {
        Panel panel = rows.get(r)[c];
        if (panel == null) {
          continue;
        }
        int top = GAP + r * (h * scale + GAP);
        int left = GAP + c * (w * scale + GAP);
        for (int y = 0; y < h * scale; y++) {
          for (int x = 0; x < w * scale; x++) {
            out.setRGB(left + x, top + y, panel.rgb[(y / scale) * w + x / scale]);
          }
        }
      }
    }
    return out;
  }

  /** A [C, H, W] or [H, W] float tensor. */
  private record Image(int channels, int height, int width, float[] data) {
    static Image of(Tensor t) {
      List<Long> shape = t.getShapeList();
      int n = shape.size();
      int channels = n == 3 ? shape.get(0).intValue() : 1;
      int height = shape.get(n - 2).intValue();
      int width = shape.get(n - 1).intValue();
      float[] data = new float[channels * height * width];
      ByteBuffer.wrap(t.getData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
          .get(data);
      return new Image(channels, height, width, data);
    }

    Image minus(Image o) {
      float[] d = new float[data.length];
      for (int i = 0; i < d.length; i++) {
        d[i] = data[i] - o.data[i];
      }
      return new Image(channels, height, width, d);
    }

    Image abs() {
      float[] d = new float[data.length];
      for (int i = 0; i < d.length; i++) {
        d[i] = Math.abs(data[i]);
      }
      return new Image(channels, height, width, d);
    }

    /** The channel mean per pixel. */
    float[] mean() {
      int pixels = height * width;
      float[] m = new float[pixels];
      for (int i = 0; i < data.length; i++) {
        m[i % pixels] += data[i] / channels;
      }
      return m;
    }
  }

  /** One panel's pixels as 0xRRGGBB, H * W. */
  private record Panel(int[] rgb) {

    /** The image itself; grey levels span the range of both images (at least [0, 1]). */
    static Panel picture(Image image, Image a, Image b) {
      float lo = 0;
      float hi = 1;
      for (Image i : List.of(a, b)) {
        for (float v : i.data) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
      int pixels = image.height * image.width;
      int[] rgb = new int[pixels];
      for (int p = 0; p < pixels; p++) {
        int colour = 0;
        for (int c = 0; c < 3; c++) {
          float v = image.data[(image.channels == 3 ? c : 0) * pixels + p];
          int level = Math.round(255 * Math.max(0, Math.min(1, (v - lo) / (hi - lo))));
          colour = (colour << 8) | level;
        }
        rgb[p] = colour;
      }
      return new Panel(rgb);
    }

    /** Signed values, blue below 0, red above, scaled to the largest |value|. */
    static Panel diverging(Image image) {
      float[] m = image.mean();
      float max = maxAbs(m);
      int[] rgb = new int[m.length];
      for (int p = 0; p < m.length; p++) {
        rgb[p] = colour(RD_BU, max == 0 ? 0.5f : (m[p] / max + 1) / 2);
      }
      return new Panel(rgb);
    }

    /** Magnitudes, black to pale yellow, scaled to the largest value. */
    static Panel sequential(Image image) {
      float[] m = image.mean();
      float max = maxAbs(m);
      int[] rgb = new int[m.length];
      for (int p = 0; p < m.length; p++) {
        rgb[p] = colour(INFERNO, max == 0 ? 0 : Math.abs(m[p]) / max);
      }
      return new Panel(rgb);
    }

    private static float maxAbs(float[] m) {
      float max = 0;
      for (float v : m) {
        max = Math.max(max, Math.abs(v));
      }
      return max;
    }

    private static int colour(int[] stops, float t) {
      float pos = Math.max(0f, Math.min(1f, t)) * (stops.length - 1);
      int i = Math.min((int) pos, stops.length - 2);
      float f = pos - i;
      int rgb = 0;
      for (int shift = 16; shift >= 0; shift -= 8) {
        int a = (stops[i] >> shift) & 0xff;
        int b = (stops[i + 1] >> shift) & 0xff;
        rgb |= Math.round(a + (b - a) * f) << shift;
      }
      return rgb;
    }
  }
}
