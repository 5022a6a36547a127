package dev.salient.server.method;

import static dev.salient.server.method.GeoSalTest.argmax;
import static dev.salient.server.method.GeoSalTest.placeBiases;
import static dev.salient.server.method.GeoSalTest.randomAffine;
import static dev.salient.server.method.GeoSalTest.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.explanation.ExplainEvent;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * FGSM and BIM on a single linear layer with two classes, where a sign step of size e lowers the
 * margin y_P - y_Q by exactly e ‖w_P - w_Q‖₁ (pixel range [-1, 2], so e = 3 eps).
 */
class GradientSignAttackTest {

  static double l1(AffineEngine model) {
    double s = 0;
    for (int i = 0; i < GeoSalTest.N; i++) {
      s += Math.abs(model.weights[0][i] - model.weights[1][i]);
    }
    return s;
  }

  static MethodHarness.Run run(ExplanationMethod method, AffineEngine model,
      Map<String, String> params, float[] x, int target) {
    return new MethodHarness(model, model.model).run(method, params, x, target);
  }

  @Test
  void fgsmReturnsTheSmallestFlippingEpsilonToTheGridsResolution() {
    AffineEngine model = randomAffine(21, 2, -1f, 2f);
    float[] x = uniform(22, 0.3f, 0.7f);
    placeBiases(model, x, 0.7);
    // eps is a fraction of the pixel range, here 3.
    double critical = 0.7 / l1(model) / 3;

    MethodHarness.Run run = run(new FastGradientSign(), model, Map.of(), x, 1);

    double eps = run.result().values().get("epsilon");
    assertEquals(1.0, run.result().values().get("flipped"));
    assertTrue(eps > critical && eps < critical * 1.012, eps + " vs critical " + critical);
    float[] adversarial = run.map("adversarial").tensor().data();
    for (int i = 0; i < x.length; i++) {
      assertEquals(3 * eps, Math.abs(adversarial[i] - x[i]), 1e-6, "pixel " + i);
    }
  }

  @Test
  void fgsmFramesFailBelowTheReturnedEpsilon() {
    AffineEngine model = randomAffine(23, 2, -1f, 2f);
    float[] x = uniform(24, 0.3f, 0.7f);
    placeBiases(model, x, 0.4);

    MethodHarness.Run run = run(new FastGradientSign(), model, Map.of(), x, 1);

    double eps = run.result().values().get("epsilon");
    for (ExplainEvent.Frame f : run.frames()) {
      double frameEps = f.values().get("epsilon");
      assertEquals(frameEps >= eps, f.values().get("margin") < 0, "frame at eps " + frameEps);
    }
  }

  @Test
  void untargetedFgsmLeavesThePredictedClass() {
    AffineEngine model = randomAffine(25, 4, 0f, 1f);
    float[] x = uniform(26, 0.2f, 0.8f);
    placeBiases(model, x, 0.5, 0.6, 0.9);

    MethodHarness.Run run = run(new FastGradientSign(), model, Map.of(), x, 0);

    assertEquals(1.0, run.result().values().get("untargeted"));
    assertEquals(1.0, run.result().values().get("flipped"));
    assertNotEquals(0, argmax(model.logits(run.map("adversarial").tensor().data())));
  }

  @Test
  void bimFlipsAtTheStepTheLinearMarginPredicts() {
    AffineEngine model = randomAffine(27, 2, -1f, 2f);
    float[] x = uniform(28, 0.3f, 0.7f);
    placeBiases(model, x, 0.9);
    double alpha = 0.004;
    int expected = (int) Math.floor(0.9 / (3 * alpha * l1(model))) + 1;

    MethodHarness.Run run = run(new BasicIterativeMethod(), model, Map.of(), x, 1);

    assertEquals(1.0, run.result().values().get("flipped"));
    assertEquals(expected, run.result().values().get("iterations"));
    assertEquals(expected + 1,
        run.frames().stream().filter(f -> !f.phase().equals("refine")).count());
  }

  @Test
  void bimStaysInTheEpsilonBallAndThePixelRange() {
    AffineEngine model = randomAffine(29, 2, 0f, 1f);
    float[] x = uniform(30, 0f, 1f);
    placeBiases(model, x, 1000.0);

    MethodHarness.Run run = run(new BasicIterativeMethod(), model,
        Map.of("epsilon", "0.05", "max_iterations", "40"), x, 1);

    float[] adversarial = run.map("adversarial").tensor().data();
    for (int i = 0; i < x.length; i++) {
      assertTrue(adversarial[i] >= 0f && adversarial[i] <= 1f, "pixel " + adversarial[i]);
      assertTrue(Math.abs(adversarial[i] - x[i]) <= 0.05 + 1e-6, "pixel " + i);
    }
  }

  @Test
  void anUnreachableTargetEndsAtTheIterationBoundWithAResultThatSaysSo() {
    AffineEngine model = randomAffine(31, 2, 0f, 1f);
    float[] x = uniform(32, 0f, 1f);
    placeBiases(model, x, 1000.0);

    MethodHarness.Run bim = run(new BasicIterativeMethod(), model,
        Map.of("max_iterations", "30"), x, 1);
    MethodHarness.Run fgsm = run(new FastGradientSign(), model, Map.of(), x, 1);

    assertEquals(0.0, bim.result().values().get("flipped"));
    assertEquals(1.0, bim.result().values().get("iteration_bound"));
    assertEquals(30.0, bim.result().values().get("iterations"));
    assertEquals(0.0, fgsm.result().values().get("flipped"));
    for (float v : fgsm.map("adversarial").tensor().data()) {
      assertTrue(v >= 0f && v <= 1f, "pixel " + v);
    }
  }
}
