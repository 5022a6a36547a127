package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.LayerWalk;
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
  void percentileIsTheLowerNearestRank() {
    double[] v = {5, 1, 4, 2, 3};
    assertEquals(1, LayerOps.percentile(v, 0));
    assertEquals(3, LayerOps.percentile(v, 50));
    assertEquals(4, LayerOps.percentile(v, 98));
    assertEquals(5, LayerOps.percentile(v, 100));
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
