package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.salient.client.FakeData;
import dev.salient.grpc.Tensor;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelInputTest {

  @Test
  void aGreyModelGetsTheLuminanceResizedToItsInput() {
    ModelInput input = ModelInput.of(FakeData.model());
    BufferedImage frame = filled(280, 140, new Color(200, 100, 50));

    Tensor t = input.tensor(frame);

    assertEquals(List.of(1L, 28L, 28L), t.getShapeList());
    float[] v = floats(t);
    assertEquals(28 * 28, v.length);
    double luminance = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255;
    for (float x : v) {
      assertEquals(luminance, x, 1e-3);
    }
  }

  @Test
  void aColourModelGetsRgbPlanesInItsPixelRange() {
    ModelInput input = new ModelInput(3, 4, 6, -1, 1);

    float[] v = floats(input.tensor(filled(12, 8, new Color(255, 0, 51))));

    assertEquals(3 * 4 * 6, v.length);
    assertEquals(1f, v[0], 1e-6);
    assertEquals(-1f, v[24], 1e-6);
    assertEquals(-1 + 2 * 51 / 255f, v[48], 1e-6);
  }

  @Test
  void of_errorOnAFourChannelModel() {
    assertThrows(
        IllegalArgumentException.class,
        () -> ModelInput.of(FakeData.model().toBuilder().setInputShape(0, 4).build()));
  }

  private static BufferedImage filled(int w, int h, Color c) {
    BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = image.createGraphics();
    g.setColor(c);
    g.fillRect(0, 0, w, h);
    g.dispose();
    return image;
  }

  private static float[] floats(Tensor t) {
    FloatBuffer b =
        t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] v = new float[b.remaining()];
    b.get(v);
    return v;
  }
}
