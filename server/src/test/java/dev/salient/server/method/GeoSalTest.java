package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.Softmax;
import dev.salient.server.explanation.ExplainEvent;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** GeoSal against the closed forms of a single linear layer, where the planes are exact. */
class GeoSalTest {
  static final int SIDE = 4;
  static final int N = SIDE * SIDE;

  /** A random affine model whose classes 0 and 1 are P and Q at the returned image. */
  static AffineEngine randomAffine(long seed, int classes, float pixelMin, float pixelMax) {
    Random r = new Random(seed);
    double[][] w = new double[classes][N];
    for (double[] row : w) {
      for (int i = 0; i < N; i++) {
        row[i] = r.nextGaussian();
      }
    }
    double[] b = new double[classes];
    return new AffineEngine(w, b, SIDE, SIDE, pixelMin, pixelMax);
  }

  static float[] uniform(long seed, float lo, float hi) {
    Random r = new Random(seed);
    float[] x = new float[N];
    for (int i = 0; i < N; i++) {
      x[i] = lo + (hi - lo) * r.nextFloat();
    }
    return x;
  }

  /** Sets the biases so that {@code x} scores {@code margins[k]} below class 0, class 0 being P. */
  static void placeBiases(AffineEngine model, float[] x, double... margins) {
    double[] y = model.logits(x);
    for (int k = 0; k < y.length; k++) {
      model.bias[k] = -y[k] - (k == 0 ? 0 : margins[k - 1]);
    }
  }

  static double[] planeNormal(AffineEngine model, int p, int q) {
    double[] n = new double[N];
    for (int i = 0; i < N; i++) {
      n[i] = model.weights[p][i] - model.weights[q][i];
    }
    return n;
  }

  /** x - (y' / ‖w'‖²) w' over the pixels not in {@code held}: the closest point on the plane. */
  static float[] projection(float[] x, double margin, double[] normal, boolean[] held) {
    double n2 = 0;
    for (int i = 0; i < N; i++) {
      n2 += held[i] ? 0 : normal[i] * normal[i];
    }
    float[] out = new float[N];
    for (int i = 0; i < N; i++) {
      out[i] = (float) (held[i] ? x[i] : x[i] - margin / n2 * normal[i]);
    }
    return out;
  }

  static MethodHarness.Run run(AffineEngine model, Map<String, String> params, float[] x,
      int target) {
    return new MethodHarness(model, model.model).run(new GeoSal(), params, x, target);
  }

  static void assertClose(float[] expected, float[] actual, double tolerance) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tolerance, "pixel " + i);
    }
  }

  static int argmax(double[] y) {
    int best = 0;
    for (int k = 1; k < y.length; k++) {
      best = y[k] > y[best] ? k : best;
    }
    return best;
  }

  @Test
  void withoutOvershootReturnsTheClosestPointOnTheLinearDecisionPlane() {
    AffineEngine model = randomAffine(1, 3, -100f, 100f);
    float[] x = uniform(2, 0.3f, 0.7f);
    placeBiases(model, x, 1.5, 6.0);
    float[] expected = projection(x, 1.5, planeNormal(model, 0, 1), new boolean[N]);

    MethodHarness.Run run = run(model, Map.of("overshoot", "0"), x, 1);

    assertClose(expected, run.map("adversarial").tensor().data(), 1e-5);
    assertEquals(Adversarial.l2(x, expected), run.result().values().get("l2"), 1e-5);
  }

  @Test
  void overshootCrossesThePlaneInOneIteration() {
    AffineEngine model = randomAffine(3, 3, -100f, 100f);
    float[] x = uniform(4, 0.3f, 0.7f);
    placeBiases(model, x, 2.0, 8.0);
    float[] onPlane = projection(x, 2.0, planeNormal(model, 0, 1), new boolean[N]);
    float[] expected = new float[N];
    for (int i = 0; i < N; i++) {
      expected[i] = x[i] + 1.02f * (onPlane[i] - x[i]);
    }

    MethodHarness.Run run = run(model, Map.of(), x, 1);

    assertClose(expected, run.map("adversarial").tensor().data(), 1e-5);
    assertEquals(1.0, run.result().values().get("flipped"));
    assertEquals(1.0, run.result().values().get("iterations"));
    assertEquals(1, argmax(model.logits(run.map("adversarial").tensor().data())));
  }

  /** Pixels 0..5 are black and the plane's normal would push them below black. */
  static AffineEngine clippedCase(float[] x, double margin) {
    AffineEngine model = randomAffine(5, 2, 0f, 1f);
    for (int i = 0; i < 6; i++) {
      x[i] = 0f;
      model.weights[0][i] = Math.abs(model.weights[0][i]) + 1;
      model.weights[1][i] = -Math.abs(model.weights[1][i]) - 1;
    }
    placeBiases(model, x, margin);
    return model;
  }

  static boolean[] firstSixHeld() {
    boolean[] held = new boolean[N];
    for (int i = 0; i < 6; i++) {
      held[i] = true;
    }
    return held;
  }

  @Test
  void clippedStepsJumpToTheClosestPointOnThePlaneInsideTheBox() {
    float[] x = uniform(6, 0.4f, 0.6f);
    AffineEngine model = clippedCase(x, 0.5);
    float[] expected = projection(x, 0.5, planeNormal(model, 0, 1), firstSixHeld());

    MethodHarness.Run run = run(model, Map.of("overshoot", "0", "max_iterations", "3"), x, 1);

    assertClose(expected, run.map("adversarial").tensor().data(), 1e-5);
    assertEquals("project", run.frames().get(1).phase());
    assertEquals("jump", run.frames().get(2).phase());
  }

  @Test
  void theJumpFlipsAClippedSearchInTwoIterations() {
    // Plain projection and clipping would approach the plane as a geometric series and never
    // cross it; eq. 9 jumps to the limit.
    float[] x = uniform(6, 0.4f, 0.6f);
    AffineEngine model = clippedCase(x, 0.5);

    MethodHarness.Run run = run(model, Map.of(), x, 1);

    assertEquals(1.0, run.result().values().get("flipped"));
    assertEquals(2.0, run.result().values().get("iterations"));
    float[] adversarial = run.map("adversarial").tensor().data();
    for (int i = 0; i < 6; i++) {
      assertEquals(0f, adversarial[i], "held pixel " + i);
    }
  }

  @Test
  void everyReturnedPixelStaysInThePixelRange() {
    // A far plane: unclipped steps would leave [0, 1] on most pixels.
    for (long seed = 10; seed < 20; seed++) {
      AffineEngine model = randomAffine(seed, 4, 0f, 1f);
      float[] x = uniform(seed + 100, 0f, 1f);
      placeBiases(model, x, 3.0, 3.5, 4.0);

      MethodHarness.Run run = run(model, Map.of("threshold", "0"), x, 0);

      for (ExplainEvent.SaliencyMap map : run.result().maps()) {
        if (map.name().startsWith("adversarial")) {
          for (float v : map.tensor().data()) {
            assertTrue(v >= 0f && v <= 1f, map.name() + " has pixel " + v);
          }
        }
      }
    }
  }

  @Test
  void aPlaneOutsideTheBoxEndsStalledAndNotFlipped() {
    float[] x = uniform(7, 0.4f, 0.6f);
    AffineEngine model = randomAffine(8, 2, 0f, 1f);
    placeBiases(model, x, 1000.0);

    MethodHarness.Run run = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> run(model, Map.of("max_iterations", "10000"), x, 1));

    assertEquals(0.0, run.result().values().get("flipped"));
    assertEquals(1.0, run.result().values().get("stalled"));
    assertTrue(run.result().values().get("iterations") < 100,
        "iterations " + run.result().values().get("iterations"));
  }

  @Test
  void theIterationBoundEndsASearchWithAResultThatSaysSo() {
    float[] x = uniform(6, 0.4f, 0.6f);
    AffineEngine model = clippedCase(x, 0.5);

    MethodHarness.Run run = run(model, Map.of("max_iterations", "1"), x, 1);

    assertEquals(0.0, run.result().values().get("flipped"));
    assertEquals(1.0, run.result().values().get("iteration_bound"));
    assertEquals(1.0, run.result().values().get("iterations"));
    assertTrue(run.result().values().get("margin") > 0);
  }

  @Test
  void aThirdClassOvertakingTheTargetIsPassedToo() {
    // Class 2 rises faster than Q along the P -> Q plane normal: once y_Q > y_P, class 2 leads.
    AffineEngine model = randomAffine(9, 3, -100f, 100f);
    Random r = new Random(13);
    for (int i = 0; i < N; i++) {
      model.weights[2][i] = model.weights[1][i]
          + 0.8 * (model.weights[1][i] - model.weights[0][i]) + 0.5 * r.nextGaussian();
    }
    float[] x = uniform(10, 0.3f, 0.7f);
    placeBiases(model, x, 1.0, 1.2);

    MethodHarness.Run run = run(model, Map.of(), x, 1);

    assertEquals(1.0, run.result().values().get("flipped"));
    assertEquals(1, argmax(model.logits(run.map("adversarial").tensor().data())));
  }

  @Test
  void withoutATargetTheImportanceIsTheProbabilityWeightedSumOverCompetitors() {
    AffineEngine model = randomAffine(11, 4, 0f, 1f);
    float[] x = uniform(12, 0.2f, 0.8f);
    placeBiases(model, x, 0.5, 1.0, 6.0);
    float[] p = Softmax.of(harnessLogits(model, x));

    MethodHarness.Run run = run(model, Map.of("threshold", "0.01"), x, 0);

    // Class 3 is below the threshold (p about 0.002): two competitors.
    assertTrue(p[3] < 0.01 && p[2] >= 0.01, "probabilities " + java.util.Arrays.toString(p));
    assertEquals(2.0, run.result().values().get("competitors"));
    float[] importance = new float[N];
    for (int q = 1; q <= 2; q++) {
      float[] adversarial = run.map("adversarial_" + q).tensor().data();
      assertEquals(p[q], run.result().values().get("weight_" + q), 1e-6);
      for (int i = 0; i < N; i++) {
        importance[i] += p[q] * Math.abs(adversarial[i] - x[i]);
      }
    }
    assertClose(importance, run.map("importance").tensor().data(), 1e-6);
  }

  static float[] harnessLogits(AffineEngine model, float[] x) {
    return new MethodHarness(model, model.model).logits(x);
  }
}
