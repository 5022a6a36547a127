package dev.salient.server.method;

import static dev.salient.server.method.GeoSalTest.N;
import static dev.salient.server.method.GeoSalTest.placeBiases;
import static dev.salient.server.method.GeoSalTest.randomAffine;
import static dev.salient.server.method.GeoSalTest.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * BIM's line search along its last step on a two-class linear layer, where the margin is linear
 * along the step: the returned margin is past the boundary by at most {@code overshoot} times
 * the margin at the image.
 */
class BimOvershootTest {

  /** A linear layer steep enough that one step of alpha = 0.004 drops the margin by about 40. */
  static AffineEngine sensitiveModel(long seed) {
    AffineEngine model = randomAffine(seed, 2, -1f, 2f);
    for (double[] row : model.weights) {
      for (int i = 0; i < N; i++) {
        row[i] *= 200;
      }
    }
    return model;
  }

  static MethodHarness.Run bim(AffineEngine model, Map<String, String> params, float[] x) {
    return new MethodHarness(model, model.model).run(new BasicIterativeMethod(), params, x, 1);
  }

  @Test
  void whenTheFirstStepFlipsTheMarginEndsWithinTheOvershootOfTheBoundary() {
    AffineEngine model = sensitiveModel(71);
    float[] x = uniform(72, 0.3f, 0.7f);
    placeBiases(model, x, 3.0);

    MethodHarness.Run run = bim(model, Map.of(), x);

    Map<String, Double> values = run.result().values();
    assertEquals(1.0, values.get("flipped"));
    assertEquals(1.0, values.get("iterations"));
    assertTrue(values.get("margin") < 0 && values.get("margin") >= -0.02 * 3.0,
        "margin " + values.get("margin"));
  }

  @Test
  void theReturnedMarginIsTheModelsMarginAtTheReturnedImage() {
    AffineEngine model = sensitiveModel(71);
    float[] x = uniform(72, 0.3f, 0.7f);
    placeBiases(model, x, 3.0);

    MethodHarness.Run run = bim(model, Map.of(), x);

    double[] y = model.logits(run.map("adversarial").tensor().data());
    assertEquals(y[0] - y[1], run.result().values().get("margin"), 1e-3);
  }

  @Test
  void aSmallerOvershootEndsCloserToTheBoundary() {
    AffineEngine model = sensitiveModel(73);
    float[] x = uniform(74, 0.3f, 0.7f);
    placeBiases(model, x, 3.0);

    MethodHarness.Run run = bim(model, Map.of("overshoot", "0.001"), x);

    double margin = run.result().values().get("margin");
    assertTrue(margin < 0 && margin >= -0.001 * 3.0, "margin " + margin);
  }

  @Test
  void afterSeveralStepsTheMarginEndsWithinTheOvershootOfTheBoundary() {
    AffineEngine model = randomAffine(75, 2, -1f, 2f);
    float[] x = uniform(76, 0.3f, 0.7f);
    placeBiases(model, x, 0.9);

    MethodHarness.Run run = bim(model, Map.of(), x);

    double margin = run.result().values().get("margin");
    assertTrue(run.result().values().get("iterations") > 1);
    assertTrue(margin < 0 && margin >= -0.02 * 0.9, "margin " + margin);
  }

  @Test
  void theReturnedImageLiesOnTheLastStep() {
    AffineEngine model = sensitiveModel(77);
    float[] x = uniform(78, 0.3f, 0.7f);
    placeBiases(model, x, 3.0);

    MethodHarness.Run run = bim(model, Map.of(), x);

    // The first step moves every pixel by alpha = 0.004 of the range 3; the search keeps a part.
    double kept = run.result().values().get("step_fraction");
    float[] adversarial = run.map("adversarial").tensor().data();
    assertTrue(kept > 0 && kept < 1, "step fraction " + kept);
    for (int i = 0; i < N; i++) {
      assertEquals(kept * 0.012, Math.abs(adversarial[i] - x[i]), 1e-6, "pixel " + i);
    }
  }

  @Test
  void refineZeroReturnsTheFirstIterateThatFlipsAsThePaperDoes() {
    AffineEngine model = sensitiveModel(71);
    float[] x = uniform(72, 0.3f, 0.7f);
    placeBiases(model, x, 3.0);

    MethodHarness.Run run = bim(model, Map.of("refine", "0"), x);

    float[] adversarial = run.map("adversarial").tensor().data();
    for (int i = 0; i < N; i++) {
      assertEquals(0.012, Math.abs(adversarial[i] - x[i]), 1e-6, "pixel " + i);
    }
    assertEquals(1.0, run.result().values().get("step_fraction"));
  }
}
