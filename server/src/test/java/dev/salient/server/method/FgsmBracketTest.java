package dev.salient.server.method;

import static dev.salient.server.method.GeoSalTest.N;
import static dev.salient.server.method.GeoSalTest.placeBiases;
import static dev.salient.server.method.GeoSalTest.randomAffine;
import static dev.salient.server.method.GeoSalTest.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * FGSM's bracket [epsilon_lower, epsilon_upper] against the smallest flipping eps of a two-class
 * linear layer, known in closed form: along x + e sign(w_Q - w_P), clipped to the pixel range,
 * the margin y_P - y_Q falls by |w_P,i - w_Q,i| min(e, headroom_i) per pixel.
 */
class FgsmBracketTest {
  /**
   * The smallest eps (a fraction of the pixel range) at which the margin {@code margin} of
   * {@code x} is used up, or infinity if clipping stops it before.
   */
  static double smallestFlippingEpsilon(AffineEngine model, float[] x, double margin,
      float pixelMin, float pixelMax) {
    double[] headroom = new double[N];
    double[] slope = new double[N];
    for (int i = 0; i < N; i++) {
      double d = model.weights[1][i] - model.weights[0][i];
      headroom[i] = d > 0 ? pixelMax - x[i] : x[i] - pixelMin;
      slope[i] = Math.abs(d);
    }
    Integer[] order = new Integer[N];
    Arrays.setAll(order, i -> i);
    Arrays.sort(order, (a, b) -> Double.compare(headroom[a], headroom[b]));
    // Between consecutive headrooms the margin falls linearly in the step e, with the slopes of
    // the pixels not yet at the edge of the range.
    double usedUp = 0;
    double activeSlope = Arrays.stream(slope).sum();
    for (int i : order) {
      double e = (margin - usedUp) / activeSlope;
      if (e <= headroom[i]) {
        return e / (pixelMax - pixelMin);
      }
      usedUp += slope[i] * headroom[i];
      activeSlope -= slope[i];
    }
    return Double.POSITIVE_INFINITY;
  }

  static MethodHarness.Run fgsm(AffineEngine model, Map<String, String> params, float[] x) {
    return new MethodHarness(model, model.model).run(new FastGradientSign(), params, x, 1);
  }

  static void assertBracketHolds(double critical, double precision, Map<String, Double> values) {
    double lower = values.get("epsilon_lower");
    double upper = values.get("epsilon_upper");
    String bracket = "[" + lower + ", " + upper + "] against " + critical;
    assertEquals(1.0, values.get("flipped"));
    assertEquals(upper, values.get("epsilon"));
    assertTrue(lower < critical, "lower end too high: " + bracket);
    assertTrue(critical <= upper, "upper end too low: " + bracket);
    assertTrue(upper <= lower * (1 + precision) * (1 + 1e-9), "bracket too wide: " + bracket);
  }

  @Test
  void theBracketContainsTheFlipWithinThePrecisionWhenItIsInsideTheGrid() {
    AffineEngine model = randomAffine(51, 2, -1f, 2f);
    float[] x = uniform(52, 0.3f, 0.7f);
    placeBiases(model, x, 0.7);
    double critical = smallestFlippingEpsilon(model, x, 0.7, -1f, 2f);

    MethodHarness.Run run = fgsm(model, Map.of(), x);

    assertTrue(critical > 0.004 && critical < 0.1, "inside the grid, unclipped: " + critical);
    assertBracketHolds(critical, 0.01, run.result().values());
  }

  @Test
  void oneRefinementPassAfterTheGridReachesTheDefaultPrecision() {
    AffineEngine model = randomAffine(51, 2, -1f, 2f);
    float[] x = uniform(52, 0.3f, 0.7f);
    placeBiases(model, x, 0.7);

    MethodHarness.Run run = fgsm(model, Map.of(), x);

    // The job's pass, the gradient, the grid, one refinement.
    assertEquals(4, run.engineCalls());
  }

  @Test
  void theBracketContainsTheFlipWithinThePrecisionWhenTheFirstGridValueAlreadyFlips() {
    AffineEngine model = randomAffine(53, 2, -1f, 2f);
    float[] x = uniform(54, 0.3f, 0.7f);
    double critical = 2e-5;
    double margin = critical * 3 * GradientSignAttackTest.l1(model);
    placeBiases(model, x, margin);

    MethodHarness.Run run = fgsm(model, Map.of(), x);

    assertEquals(critical, smallestFlippingEpsilon(model, x, margin, -1f, 2f), 1e-12);
    assertBracketHolds(critical, 0.01, run.result().values());
    assertEquals(0.0, run.result().values().get("on_boundary"));
  }

  @Test
  void theBracketAccountsForClippingToThePixelRange() {
    AffineEngine model = randomAffine(55, 2, 0f, 1f);
    float[] x = uniform(56, 0f, 1f);
    double margin = 0.5 * GradientSignAttackTest.l1(model) * 0.5;
    placeBiases(model, x, margin);
    double critical = smallestFlippingEpsilon(model, x, margin, 0f, 1f);

    MethodHarness.Run run = fgsm(model, Map.of(), x);

    assertTrue(critical > margin / GradientSignAttackTest.l1(model) * 1.05,
        "clipping delays the flip: " + critical);
    assertBracketHolds(critical, 0.01, run.result().values());
  }

  @Test
  void aFinerPrecisionNarrowsTheBracket() {
    AffineEngine model = randomAffine(57, 2, -1f, 2f);
    float[] x = uniform(58, 0.3f, 0.7f);
    placeBiases(model, x, 0.4);
    double critical = smallestFlippingEpsilon(model, x, 0.4, -1f, 2f);

    MethodHarness.Run run = fgsm(model, Map.of("precision", "0.0001"), x);

    assertBracketHolds(critical, 0.0001, run.result().values());
  }

  @Test
  void whenNothingFlipsTheResultSaysSoWithTheLargestEpsilonTried() {
    AffineEngine model = randomAffine(59, 2, 0f, 1f);
    float[] x = uniform(60, 0f, 1f);
    placeBiases(model, x, 1000.0);

    MethodHarness.Run run = fgsm(model, Map.of("epsilon_max", "0.5"), x);

    Map<String, Double> values = run.result().values();
    assertEquals(0.0, values.get("flipped"));
    assertEquals(0.5, values.get("epsilon_lower"), 1e-12);
    assertEquals(0.5, values.get("epsilon"), 1e-12);
    assertFalse(values.containsKey("epsilon_upper"));
    assertEquals(0.0, values.get("on_boundary"));
  }

  @Test
  void anImageOnTheBoundaryEndsAtTheSmallestEpsilonInsteadOfSearchingOn() {
    AffineEngine model = randomAffine(61, 2, 0f, 1f);
    float[] x = uniform(62, 0.3f, 0.7f);
    placeBiases(model, x, 0.0);

    MethodHarness.Run run = fgsm(model, Map.of(), x);

    Map<String, Double> values = run.result().values();
    assertEquals(1.0, values.get("flipped"));
    assertEquals(1.0, values.get("on_boundary"));
    assertEquals(0.0, values.get("epsilon_lower"));
    assertEquals(FastGradientSign.SMALLEST_EPSILON, values.get("epsilon_upper"));
  }
}
