package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.TestImages;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** VisualBackProp (Bojarski et al.; seed 002). */
class VisualBackpropTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void averagedMapsAreScaledUpByUnitKernelsAndMultipliedPointWise() {
    // 1x4x4 input, conv 3x3 pad 1 to 2 channels, ReLU, 2x2 max-pool, conv 1x1 to 3 channels,
    // ReLU, flatten, linear. The ReLUs' outputs are chosen so their channel means are known:
    // first ReLU: channel 0 holds p (0..15), channel 1 holds 1, mean (p + 1) / 2;
    // second ReLU: channel k, cell q holds (k + 1)(q + 1), mean 2 (q + 1).
    List<LayerWalk.Layer> layers = List.of(
        new LayerWalk.Conv(new float[18], new float[2], 3, 3, 1, 1, new int[] {1, 4, 4},
            new int[] {2, 4, 4}),
        new LayerWalk.Relu(new int[] {2, 4, 4}),
        new LayerWalk.MaxPool(2, new int[] {2, 4, 4}),
        new LayerWalk.Conv(new float[6], new float[3], 1, 1, 1, 0, new int[] {2, 2, 2},
            new int[] {3, 2, 2}),
        new LayerWalk.Relu(new int[] {3, 2, 2}),
        new LayerWalk.Flatten(new int[] {3, 2, 2}),
        new LayerWalk.Linear(new float[24], new float[2], 12, 2));
    float[] relu1 = new float[32];
    for (int p = 0; p < 16; p++) {
      relu1[p] = p;
      relu1[16 + p] = 1;
    }
    float[] relu2 = new float[12];
    for (int k = 0; k < 3; k++) {
      for (int q = 0; q < 4; q++) {
        relu2[k * 4 + q] = (k + 1) * (q + 1);
      }
    }
    LayerWalk walk = new LayerWalk(layers, List.of(new float[16], new float[32], relu1,
        new float[8], new float[12], relu2, relu2.clone(), new float[2]));

    List<VisualBackprop.Level> levels = VisualBackprop.sweep(walk);

    // By hand: the deep mean 2 (q + 1) copied into each 2x2 window (the pool's unit kernel; the
    // 1x1 convolution's leaves it), times the first mean, then each pixel the sum of its 3x3
    // neighbourhood inside the image (the first convolution's unit kernel, padding 1).
    double[] product = new double[16];
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        double deep = 2 * ((y / 2) * 2 + x / 2 + 1);
        product[y * 4 + x] = deep * (y * 4 + x + 1) / 2.0;
      }
    }
    double[] expected = new double[16];
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        for (int dy = -1; dy <= 1; dy++) {
          for (int dx = -1; dx <= 1; dx++) {
            if (y + dy >= 0 && y + dy < 4 && x + dx >= 0 && x + dx < 4) {
              expected[y * 4 + x] += product[(y + dy) * 4 + x + dx];
            }
          }
        }
      }
    }
    assertEquals(3, levels.size());
    assertEquals(4, levels.get(0).layer());
    assertArrayEquals(new double[] {2, 4, 6, 8}, levels.get(0).map(), 1e-12);
    assertEquals(1, levels.get(1).layer());
    assertArrayEquals(product, levels.get(1).map(), 1e-12);
    assertArrayEquals(expected, levels.get(2).map(), 1e-12);
  }

  @Test
  void onTheDefaultModelAFrameComesPerFeatureLevelAndTheMapCoversTheInput() {
    MethodHarness.Run run = loaded.harness().run(new VisualBackprop(), Map.of(),
        TestImages.sample(12), TestImages.label(12, loaded.model()),
        new MethodContext.FrameOptions(3, true));
    assertEquals(List.of("layer 4 relu", "layer 1 relu"),
        run.frames().stream().map(f -> f.phase()).toList());
    assertEquals(2.0, run.result().values().get("feature_levels"));
    float[] map = run.map("visual_backprop").tensor().data();
    assertEquals(28 * 28, map.length);
    double max = 0;
    for (float v : map) {
      assertTrue(v >= 0, "products of ReLU outputs are never negative");
      max = Math.max(max, v);
    }
    assertTrue(max > 0);
  }
}
