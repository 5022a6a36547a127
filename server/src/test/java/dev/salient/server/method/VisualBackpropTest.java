package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.TestImages;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
  void overlappingPaddedMaxPoolingScalesEachCellUpOverItsOwnWindow() {
    // ResNet-18's stem pooling, 3x3 stride 2 padding 1, from 3x3 back to 6x6: the cell (0, 0)
    // covers input rows and columns -1..1 (0..1 inside), the cell (1, 2) rows 1..3, columns 3..5.
    LayerWalk.Conv unit = VisualBackprop.unitScaleUp(
        new LayerWalk.MaxPool(3, 2, 1, new int[] {4, 6, 6}), 3, 3);
    double[] map = new double[9];
    map[0] = 1;
    map[1 * 3 + 2] = 10;

    double[] up = LayerOps.convTranspose(unit, unit.weight(), map);

    double[] expected = new double[36];
    for (int y = 0; y < 6; y++) {
      for (int x = 0; x < 6; x++) {
        expected[y * 6 + x] = (y <= 1 && x <= 1 ? 1 : 0) + (y >= 1 && y <= 3 && x >= 3 ? 10 : 0);
      }
    }
    assertArrayEquals(expected, up, 1e-12);
  }

  @Test
  void onAResidualGraphTheLevelsAreTheMainPathReluAndTheMapFollowsTheMainBranch() {
    // conv 3x3 -> ReLU (level) -> [main: conv 3x3 stride 2 -> ReLU (bypassed: not a level);
    // shortcut: conv 1x1 stride 2] -> add -> ReLU (level) -> flatten -> linear.
    List<LayerWalk.Layer> layers = List.of(
        new LayerWalk.Conv(new float[18], new float[2], 3, 3, 1, 1, new int[] {1, 4, 4},
            new int[] {2, 4, 4}),
        new LayerWalk.Relu(new int[] {2, 4, 4}),
        new LayerWalk.Conv(new float[36], new float[2], 3, 3, 2, 1, new int[] {2, 4, 4},
            new int[] {2, 2, 2}),
        new LayerWalk.Relu(new int[] {2, 2, 2}),
        new LayerWalk.Conv(new float[4], new float[2], 1, 1, 2, 0, new int[] {2, 4, 4},
            new int[] {2, 2, 2}),
        new LayerWalk.Add(new int[] {2, 2, 2}),
        new LayerWalk.Relu(new int[] {2, 2, 2}),
        new LayerWalk.Flatten(new int[] {2, 2, 2}),
        new LayerWalk.Linear(new float[16], new float[2], 8, 2));
    List<int[]> reads = List.of(new int[] {0}, new int[] {1}, new int[] {2}, new int[] {3},
        new int[] {2}, new int[] {4, 5}, new int[] {6}, new int[] {7}, new int[] {8});
    float[] firstRelu = new float[32];
    Arrays.fill(firstRelu, 2);
    float[] lastRelu = new float[8];
    lastRelu[0] = 1;
    lastRelu[4] = 1;
    LayerWalk walk = new LayerWalk(layers, reads, List.of(new float[16], new float[32],
        firstRelu, new float[8], new float[8], new float[8], new float[8], lastRelu,
        lastRelu.clone(), new float[2]));

    assertEquals(Set.of(1, 6), VisualBackprop.mainPathLevels(walk));
    List<VisualBackprop.Level> levels = VisualBackprop.sweep(walk);

    // The deep mean is 1 at (0, 0); the stride-2 unit kernel spreads it over rows and columns
    // 0..1 of 4x4; times the first mean 2; then each pixel sums its 3x3 neighbourhood: 2 times
    // the count of those cells in it, {2, 2, 1, 0} per row times the same per column.
    assertEquals(List.of(6, 1, -1), levels.stream().map(VisualBackprop.Level::layer).toList());
    int[] count = {2, 2, 1, 0};
    double[] expected = new double[16];
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 4; x++) {
        expected[y * 4 + x] = 2.0 * count[y] * count[x];
      }
    }
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
