package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.LayerWalk;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The white-box methods' layer arithmetic. */
class LayerOpsTest {

  @Test
  void convolutionTransposeIsTheAdjointOfTheConvolution() {
    // <conv(x), y> = <x, conv^T(y)> for every x and y, with stride and padding.
    Random random = new Random(1);
    LayerWalk.Conv conv = new LayerWalk.Conv(randomFloats(random, 4 * 3 * 3 * 2), new float[4],
        3, 2, 2, 1, new int[] {3, 7, 6}, new int[] {4, 4, 4});
    double[] x = randomDoubles(random, conv.inputSize());
    double[] y = randomDoubles(random, conv.outputSize());
    assertEquals(dot(LayerOps.conv(conv, conv.weight(), x), y),
        dot(x, LayerOps.convTranspose(conv, conv.weight(), y)), 1e-9);
  }

  @Test
  void linearTransposeIsTheAdjointOfTheLinearMap() {
    Random random = new Random(2);
    LayerWalk.Linear linear = new LayerWalk.Linear(randomFloats(random, 15), new float[5], 3, 5);
    double[] x = randomDoubles(random, 3);
    double[] y = randomDoubles(random, 5);
    assertEquals(dot(LayerOps.linear(linear, linear.weight(), x), y),
        dot(x, LayerOps.linearTranspose(linear, linear.weight(), y)), 1e-9);
  }

  @Test
  void maxPoolingHandsEachWindowsValueToItsFirstLargestInput() {
    LayerWalk.MaxPool pool = new LayerWalk.MaxPool(2, new int[] {1, 2, 4});
    float[] input = {1, 5, 2, 2, 3, 0, 2, 1};
    double[] routed = LayerOps.toWinners(pool, input, new double[] {10, 20});
    assertEquals(10, routed[1]);
    assertEquals(20, routed[2]);
    assertEquals(30, LayerOps.sum(routed));
  }

  @Test
  void convolutionTransposeOfAMostlyZeroGradientIsStillTheAdjoint() {
    // Rectified gradients are mostly zero: the transpose then scatters entry by entry.
    Random random = new Random(3);
    LayerWalk.Conv conv = new LayerWalk.Conv(randomFloats(random, 5 * 3 * 3 * 3), new float[5],
        3, 3, 2, 1, new int[] {3, 9, 9}, new int[] {5, 5, 5});
    double[] x = randomDoubles(random, conv.inputSize());
    double[] y = new double[conv.outputSize()];
    y[7] = 1.5;
    y[60] = -2;
    y[124] = 0.5;
    assertEquals(dot(LayerOps.conv(conv, conv.weight(), x), y),
        dot(x, LayerOps.convTranspose(conv, conv.weight(), y)), 1e-9);
  }

  @Test
  void batchNormalisationsBackwardStepIsTheAdjointOfItsScale() {
    Random random = new Random(4);
    LayerWalk.BatchNorm norm = new LayerWalk.BatchNorm(randomFloats(random, 3),
        randomFloats(random, 3), new int[] {3, 4, 5});
    LayerWalk walk = oneLayer(norm);
    double[] x = randomDoubles(random, norm.inputSize());
    double[] y = randomDoubles(random, norm.outputSize());
    assertEquals(dot(LayerOps.scale(norm, x), y), dot(x, LayerOps.backward(walk, 0, y)[0]),
        1e-9);
  }

  @Test
  void averagePoolingsBackwardStepIsTheAdjointOfTheChannelMeans() {
    Random random = new Random(5);
    LayerWalk.AvgPool pool = new LayerWalk.AvgPool(new int[] {4, 3, 5});
    LayerWalk walk = oneLayer(pool);
    double[] x = randomDoubles(random, pool.inputSize());
    double[] y = randomDoubles(random, pool.outputSize());
    assertEquals(dot(LayerOps.average(pool, x), y), dot(x, LayerOps.backward(walk, 0, y)[0]),
        1e-9);
    assertEquals(LayerOps.sum(y), LayerOps.sum(LayerOps.backward(walk, 0, y)[0]), 1e-9);
  }

  @Test
  void overlappingMaxPoolingHandsEachWindowToItsFirstLargestInputPaddingNeverWins() {
    // ResNet-18's pooling: 3x3 windows, stride 2, padding 1, over a 1x4x4 input of negatives
    // (so a zero padding would win if it counted), with a tie in the first window.
    LayerWalk.MaxPool pool = new LayerWalk.MaxPool(3, 2, 1, new int[] {1, 4, 4});
    float[] input = {
        -5, -1, -3, -4,
        -1, -9, -2, -8,
        -6, -7, -9, -3,
        -9, -2, -9, -9};
    assertArrayEquals(new int[] {1, 2, 2}, pool.out());
    // Windows: rows/cols {-1..1} x {-1..1}, {-1..1} x {1..3}, {1..3} x {-1..1}, {1..3} x {1..3}.
    assertArrayEquals(new int[] {1, 1, 4, 6}, LayerOps.winners(pool, input));
    double[] routed = LayerOps.toWinners(pool, input, new double[] {10, 20, 30, 40});
    assertEquals(30, routed[1], "a value that wins two overlapping windows gets both");
    assertEquals(30, routed[4]);
    assertEquals(40, routed[6]);
    assertEquals(100, LayerOps.sum(routed));
  }

  @Test
  void anActivationReadByTwoLayersGetsTheSumOfWhatFlowsBack() {
    // x -> BN (scale 3) -> ADD(BN output, x): d(out)/dx = 3 + 1 per entry.
    LayerWalk.BatchNorm norm = new LayerWalk.BatchNorm(new float[] {3}, new float[] {1},
        new int[] {1, 1, 2});
    LayerWalk walk = new LayerWalk(List.of(norm, new LayerWalk.Add(new int[] {1, 1, 2})),
        List.of(new int[] {0}, new int[] {1, 0}),
        List.of(new float[] {1, 2}, new float[] {4, 7}, new float[] {5, 9}));
    double[][] at = new double[3][];
    at[2] = new double[] {1, 0.5};
    LayerOps.accumulate(walk, 1, LayerOps.backward(walk, 1, at[2]), at);
    LayerOps.accumulate(walk, 0, LayerOps.backward(walk, 0, at[1]), at);
    assertArrayEquals(new double[] {4, 2}, at[0], 1e-12);
  }

  @Test
  void percentileIsTheLowerNearestRank() {
    double[] v = {5, 1, 4, 2, 3};
    assertEquals(1, LayerOps.percentile(v, 0));
    assertEquals(3, LayerOps.percentile(v, 50));
    assertEquals(4, LayerOps.percentile(v, 98));
    assertEquals(5, LayerOps.percentile(v, 100));
  }

  private static LayerWalk oneLayer(LayerWalk.Layer layer) {
    return new LayerWalk(List.of(layer), List.of(new float[layer.inputSize()],
        new float[layer.outputSize()]));
  }

  private static float[] randomFloats(Random random, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) random.nextGaussian();
    }
    return v;
  }

  private static double[] randomDoubles(Random random, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = random.nextGaussian();
    }
    return v;
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
