package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.Pass;
import dev.salient.server.engine.Ranking;
import dev.salient.server.engine.TestImages;
import dev.salient.server.util.SalientException;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Integrated Gradients: completeness, the Riemann rules' end cases, the baselines. */
class IntegratedGradientsTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void attributionsFromBlackAddUpToTheOutputChangeWithinOnePercentOnAverageAt64Steps() {
    // The default path (black baseline, midpoint rule): the mean over the held-out samples.
    double[] errors = completenessErrors(Map.of("steps", "64"));
    double mean = Arrays.stream(errors).average().orElseThrow();
    assertTrue(mean <= 0.01, summary("black", errors));
  }

  @Test
  void attributionsFromTheBlurredBaselineAddUpWithinOnePercentOnEverySampleAt64Steps() {
    double[] errors = completenessErrors(Map.of("steps", "64", "baseline", "blurred"));
    double max = Arrays.stream(errors).max().orElseThrow();
    assertTrue(max <= 0.01, summary("blurred", errors));
  }

  /** The completeness error of each committed sample, checked against the result's own. */
  private static double[] completenessErrors(Map<String, String> parameters) {
    Map<String, String> withBatch = new java.util.HashMap<>(parameters);
    withBatch.put("batch", "65");
    double[] errors = new double[TestImages.count()];
    for (int i = 0; i < errors.length; i++) {
      float[] image = TestImages.sample(i);
      int predicted = Ranking.indexOfRank(loaded.harness().logits(image), 1);
      MethodHarness.Run run =
          loaded.harness().run(new IntegratedGradients(), withBatch, image, predicted);
      Map<String, Double> values = run.result().values();
      double change = values.get("output_input") - values.get("output_baseline");
      errors[i] = Math.abs(values.get("attribution_sum") - change) / Math.abs(change);
      assertEquals(errors[i], values.get("completeness_error"), 1e-12);
    }
    return errors;
  }

  private static String summary(String baseline, double[] errors) {
    return String.format(Locale.ROOT,
        "completeness error from %s at 64 steps: mean %.5f, max %.5f, above 1%%: %d of %d",
        baseline, Arrays.stream(errors).average().orElseThrow(),
        Arrays.stream(errors).max().orElseThrow(),
        Arrays.stream(errors).filter(e -> e > 0.01).count(), errors.length);
  }

  @Test
  void oneRightStepFromBlackIsGradientTimesInput() {
    // a = 1 only: (x - 0) * dF/dx at x.
    float[] image = TestImages.sample(24);
    float[] g = loaded.engine().run(loaded.model().name(), Pass.gradient(List.of(image),
        Pass.Output.LOGIT, new int[] {2}, 10)).gradients().get(0);
    float[] expected = new float[g.length];
    for (int i = 0; i < g.length; i++) {
      expected[i] = image[i] * g[i];
    }

    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("steps", "1", "rule", "right"), image, 2);

    assertArrayEquals(expected, run.map("attribution").tensor().data(), 1e-6f);
  }

  @Test
  void oneLeftStepIsTheBaselineGradientTimesTheDifference() {
    // a = 0 only, white baseline: (x - 1) * dF/dx at the white image.
    float[] image = TestImages.sample(81);
    float[] white = new float[image.length];
    Arrays.fill(white, 1f);
    float[] g = loaded.engine().run(loaded.model().name(), Pass.gradient(List.of(white),
        Pass.Output.LOGIT, new int[] {8}, 10)).gradients().get(0);

    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("steps", "1", "rule", "left", "baseline", "white"), image, 8);

    float[] attribution = run.map("attribution").tensor().data();
    for (int i = 0; i < g.length; i++) {
      assertEquals((image[i] - 1f) * g[i], attribution[i], 1e-6f, "pixel " + i);
    }
  }

  @Test
  void trapezoidRuleSamplesBothEndsOfThePath() {
    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("steps", "8", "rule", "trapezoid", "batch", "4"), TestImages.sample(5), 0);

    double[] alphas = run.result().curves().get(0).x();
    assertEquals(9, alphas.length);
    assertEquals(0.0, alphas[0]);
    assertEquals(1.0, alphas[8]);
    assertEquals(1 + 9, run.passes());
    assertEquals(3, run.frames().size(), "4 + 4 + 1 points");
  }

  @Test
  void midpointRuleEvaluatesTheBaselineBesideItsFirstBatch() {
    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("steps", "8", "batch", "4"), TestImages.sample(5), 0);

    double[] alphas = run.result().curves().get(0).x();
    assertArrayEquals(new double[] {0, 1 / 16.0, 3 / 16.0, 5 / 16.0, 7 / 16.0, 9 / 16.0,
        11 / 16.0, 13 / 16.0, 15 / 16.0}, alphas, 0);
    assertEquals(1 + 9, run.passes());
    assertEquals(2, run.frames().size(), "1 + 4, then 4 points");
    assertEquals(loaded.harness().logits(new float[784])[0],
        run.result().values().get("output_baseline"), 1e-5, "F at the black baseline");
  }

  @Test
  void blurredBaselineIsTheImageBlurredOnTheEngine() {
    float[] image = TestImages.sample(66);
    float[] blurred = loaded.engine().run(loaded.model().name(), Pass.forward(List.of(image))
        .with(new Pass.Extras(4f))).blurred().get(0);
    float expected = loaded.harness().logits(blurred)[6];

    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("baseline", "blurred", "blur_sigma", "4", "steps", "8"), image, 6);

    assertEquals(expected, run.result().values().get("output_baseline"), 1e-5);
  }

  @Test
  void imageBaselineIsTheGivenEncodedImage() {
    float[] image = TestImages.sample(40);
    String other = Base64.getEncoder().encodeToString(TestImages.bytes(90));
    float expected = loaded.harness().logits(TestImages.sample(90))[3];

    MethodHarness.Run run = loaded.harness().run(new IntegratedGradients(),
        Map.of("baseline", "image", "baseline_image", other, "steps", "8"), image, 3);

    assertEquals(expected, run.result().values().get("output_baseline"), 1e-5);
  }

  @Test
  void baselineImageGoesWithTheImageBaselineOnly() {
    IntegratedGradients ig = new IntegratedGradients();
    assertThrows(SalientException.InvalidArgument.class,
        () -> ig.prepare(Map.of("baseline", "image")));
    assertThrows(SalientException.InvalidArgument.class,
        () -> ig.prepare(Map.of("baseline_image", "AAAA")));
    assertThrows(SalientException.InvalidArgument.class,
        () -> ig.prepare(Map.of("baseline", "image", "baseline_image", "not base64!")));
    // Valid base64 of bytes that are no image: refused when the run starts, before any pass.
    assertThrows(SalientException.InvalidArgument.class,
        () -> loaded.harness().run(ig, Map.of("baseline", "image", "baseline_image", "AAAA"),
            TestImages.sample(0), 0));
  }
}
