package dev.salient.client.figures;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.google.protobuf.ByteString;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Started;
import dev.salient.grpc.Tensor;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The adversarial figure: panels in order, the original recovered from a frame. */
class AdversarialFiguresTest {
  @TempDir Path dir;

  static Tensor tensor(long[] shape, float... values) {
    ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      b.putFloat(v);
    }
    Tensor.Builder t = Tensor.newBuilder().setData(ByteString.copyFrom(b.array()));
    for (long d : shape) {
      t.addShape(d);
    }
    return t.build();
  }

  static SaliencyMap map(String name, Tensor t) {
    return SaliencyMap.newBuilder().setName(name).setTensor(t).build();
  }

  @Test
  void onePanelRowOfOriginalAdversarialDifferenceAndImportance() throws Exception {
    long[] chw = {1, 2, 2};
    float[] original = {0f, 1f, 0.5f, 0.5f};
    float[] adversarial = {0f, 1f, 1f, 0f};
    float[] difference = {0f, 0f, 0.5f, -0.5f};
    Frame frame = Frame.newBuilder().setStep(1).setImage(tensor(chw, adversarial))
        .setMap(tensor(chw, difference)).build();
    Result result = Result.newBuilder()
        .addMaps(map("adversarial", tensor(chw, adversarial)))
        .addMaps(map("difference", tensor(chw, difference)))
        .addMaps(map("importance", tensor(new long[] {2, 2}, 0f, 0f, 0.5f, 0.5f)))
        .build();

    List<Path> files = new AdversarialFigures().write(dir, "x.geosal",
        new Explanation(Started.getDefaultInstance(), List.of(frame), result));

    assertEquals(List.of(dir.resolve("x.geosal.figure.png")), files);
    BufferedImage png = ImageIO.read(files.get(0).toFile());
    int panel = (png.getWidth() - 5 * 6) / 4;
    assertEquals(png.getHeight() - 2 * 6, panel);
    int cell = panel / 2;
    // Original, bottom-left pixel 0.5: mid grey; adversarial, same pixel 1: white.
    assertEquals(0x808080, png.getRGB(6, 6 + cell) & 0xffffff);
    assertEquals(0xffffff, png.getRGB(6 + panel + 6, 6 + cell) & 0xffffff);
    // Difference: +0.5 the reddest, -0.5 the bluest, 0 near-white.
    assertEquals(0xb2182b, png.getRGB(6 + 2 * (panel + 6), 6 + cell) & 0xffffff);
    assertEquals(0x2166ac, png.getRGB(6 + 2 * (panel + 6) + cell, 6 + cell) & 0xffffff);
    assertEquals(0xf7f7f7, png.getRGB(6 + 2 * (panel + 6), 6) & 0xffffff);
    // Importance: 0 black, the largest value pale yellow.
    assertEquals(0x000004, png.getRGB(6 + 3 * (panel + 6), 6) & 0xffffff);
    assertEquals(0xfcffa4, png.getRGB(6 + 3 * (panel + 6), 6 + cell) & 0xffffff);
  }
}
