package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Tensor;
import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HeatmapOverlayTest {

  @Test
  void aDivergingMapIsRedWherePositiveBlueWhereNegativeAndClearWhereZero() {
    // setup: grey 56 x 28 frame; map [2, 3]: +1 left, 0 middle, -1 right
    BufferedImage frame = new BufferedImage(56, 28, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 28; y++) {
      for (int x = 0; x < 56; x++) {
        frame.setRGB(x, y, 0x808080);
      }
    }
    SaliencyMap map = map("diverging", 2, 3, 1, 0, -1, 1, 0, -1);

    // run
    BufferedImage out = HeatmapOverlay.draw(frame, Optional.of(map), "", false);

    // verify: enlarged 8 times to a 224-pixel short side; probe the middle of each column
    assertEquals(448, out.getWidth());
    assertEquals(224, out.getHeight());
    int[] left = rgb(out.getRGB(40, 112));
    int[] middle = rgb(out.getRGB(224, 112));
    int[] right = rgb(out.getRGB(408, 112));
    assertTrue(left[0] > 180 && left[2] < 100, "positive is red: " + List.of(left[0], left[2]));
    assertTrue(
        right[2] > 180 && right[0] < 100, "negative is blue: " + List.of(right[0], right[2]));
    assertEquals(List.of(128, 128, 128), List.of(middle[0], middle[1], middle[2]));
  }

  @Test
  void picksSaliencyElseTheMethodsNamesakeElseTheFirst() {
    SaliencyMap positive = map("sequential", 1, 1, 1);
    SaliencyMap signed = positive.toBuilder().setName("signed").build();
    SaliencyMap saliency = positive.toBuilder().setName("saliency").build();

    assertEquals("saliency", HeatmapOverlay.pick(List.of(signed, saliency), "x").get().getName());
    assertEquals(
        "signed", HeatmapOverlay.pick(List.of(positive, signed), "signed").get().getName());
    assertEquals("m", HeatmapOverlay.pick(List.of(positive, signed), "gradcam").get().getName());
    assertTrue(HeatmapOverlay.pick(List.of(), "gradcam").isEmpty());
  }

  private static SaliencyMap map(String scale, int h, int w, float... values) {
    ByteBuffer data = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) {
      data.putFloat(v);
    }
    return SaliencyMap.newBuilder()
        .setName("m")
        .setColourScale(scale)
        .setTensor(
            Tensor.newBuilder()
                .addShape(h)
                .addShape(w)
                .setData(ByteString.copyFrom(data.array())))
        .build();
  }

  private static int[] rgb(int p) {
    return new int[] {p >> 16 & 0xff, p >> 8 & 0xff, p & 0xff};
  }
}
