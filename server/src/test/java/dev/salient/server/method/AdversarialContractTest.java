package dev.salient.server.method;

import static dev.salient.server.method.GeoSalTest.argmax;
import static dev.salient.server.method.GeoSalTest.placeBiases;
import static dev.salient.server.method.GeoSalTest.randomAffine;
import static dev.salient.server.method.GeoSalTest.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.util.SalientException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What geosal, fgsm and bim promise clients in every result and frame (the JSON contract). */
class AdversarialContractTest {
  static final List<ExplanationMethod> METHODS =
      List.of(new GeoSal(), new FastGradientSign(), new BasicIterativeMethod());

  static MethodHarness.Run run(ExplanationMethod method, int target) {
    AffineEngine model = randomAffine(41, 4, 0f, 1f);
    float[] x = uniform(42, 0.2f, 0.8f);
    placeBiases(model, x, 0.3, 0.5, 0.8);
    return new MethodHarness(model, model.model).run(method, Map.of(), x, target,
        new MethodContext.FrameOptions(3, true));
  }

  @Test
  void theResultSaysWhetherItFlippedItsL2AndItsIterations() {
    for (ExplanationMethod method : METHODS) {
      for (int target : new int[] {0, 2}) {
        MethodHarness.Run run = run(method, target);
        Map<String, Double> values = run.result().values();
        float[] adversarial = run.map("adversarial").tensor().data();
        float[] image = run.context().image();
        AffineEngine model = randomAffine(41, 4, 0f, 1f);
        placeBiases(model, image, 0.3, 0.5, 0.8);
        int label = argmax(model.logits(adversarial));
        boolean expected = target == 0 ? label != 0 : label == target;
        String where = method.name() + " target " + target;
        assertEquals(expected ? 1.0 : 0.0, values.get("flipped"), where);
        assertEquals(Adversarial.l2(image, adversarial), values.get("l2"), 1e-9, where);
        assertTrue(values.get("iterations") >= 1, where);
      }
    }
  }

  @Test
  void everyFrameCarriesDistanceMarginCompetitorAndItsCandidate() {
    for (ExplanationMethod method : METHODS) {
      MethodHarness.Run run = run(method, 2);
      assertTrue(run.frames().size() >= 2, method.name());
      int previousStep = 0;
      for (ExplainEvent.Frame f : run.frames()) {
        assertTrue(f.step() >= Math.max(1, previousStep), method.name() + " step " + f.step());
        previousStep = f.step();
        assertEquals(2.0, f.values().get("competitor"), method.name());
        float[] candidate = f.image().data();
        float[] difference = f.map().data();
        float[] image = run.context().image();
        for (int i = 0; i < image.length; i++) {
          assertEquals(candidate[i] - image[i], difference[i], 1e-6);
        }
        assertEquals(Adversarial.l2(image, candidate), f.values().get("distance"), 1e-6);
        assertTrue(f.values().containsKey("margin"), method.name());
      }
      ExplainEvent.Frame last = run.frames().get(run.frames().size() - 1);
      assertTrue(last.values().get("margin") < 0, method.name() + " ends flipped");
    }
  }

  @Test
  void untargetedTrueLeavesThePredictedClassEvenWithATarget() {
    for (ExplanationMethod method : List.of(new FastGradientSign(), new BasicIterativeMethod())) {
      AffineEngine model = randomAffine(41, 4, 0f, 1f);
      float[] x = uniform(42, 0.2f, 0.8f);
      placeBiases(model, x, 0.3, 0.5, 0.8);
      MethodHarness.Run run = new MethodHarness(model, model.model).run(method,
          Map.of("untargeted", "true"), x, 3);
      assertEquals(1.0, run.result().values().get("untargeted"), method.name());
      assertEquals(1.0, run.result().values().get("flipped"), method.name());
      assertTrue(argmax(model.logits(run.map("adversarial").tensor().data())) != 0);
    }
  }

  @Test
  void badParametersAreRejectedNamingWhatIsAccepted() {
    SalientException.InvalidArgument e = assertThrows(SalientException.InvalidArgument.class,
        () -> new FastGradientSign().prepare(Map.of("untargeted", "maybe")));
    assertTrue(e.getMessage().contains("[true, false]"), e.getMessage());
    assertThrows(SalientException.InvalidArgument.class,
        () -> new GeoSal().prepare(Map.of("overshoot", "-0.1")));
    assertThrows(SalientException.InvalidArgument.class,
        () -> new BasicIterativeMethod().prepare(Map.of("max_iterations", "0")));
    assertThrows(SalientException.InvalidArgument.class,
        () -> new FastGradientSign().prepare(Map.of("epsilon_min", "0.5", "epsilon_max", "0.1")));
  }
}
