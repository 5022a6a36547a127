package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.TestImages;
import dev.salient.server.util.SalientException;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** LIME (seed 002; Ribeiro et al. 2016): superpixels on and off, a weighted ridge fit. */
class LimeTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  static final int SIDE = 20;

  /** A random image and a black box whose probability is linear in every pixel. */
  static LinearProbabilityEngine linearModel(float[] image) {
    Random random = new Random(11);
    double[] w = new double[SIDE * SIDE];
    for (int p = 0; p < w.length; p++) {
      image[p] = random.nextFloat();
      w[p] = random.nextDouble() * 1.6 / w.length;
    }
    return new LinearProbabilityEngine(w, 0.05, SIDE, SIDE);
  }

  @Test
  void theFitRecoversTheCoefficientsOfAModelLinearInTheSuperpixels() {
    // With a black fill, p(z) = b + sum_j z_j * (sum of w_i x_i over superpixel j): exactly linear.
    float[] image = new float[SIDE * SIDE];
    LinearProbabilityEngine engine = linearModel(image);
    MethodHarness.Run run = new MethodHarness(engine, engine.model).run(new Lime(),
        Map.of("fill", "black", "ridge", "0", "superpixel_size", "5", "samples", "300"), image, 0);

    float[] labels = run.map("superpixels").tensor().data();
    int count = run.result().values().get("superpixels").intValue();
    double[] expected = new double[count];
    for (int p = 0; p < labels.length; p++) {
      expected[(int) labels[p]] += engine.weights[p] * image[p];
    }
    for (int j = 0; j < count; j++) {
      assertEquals(expected[j], run.result().values().get("weight_" + j), 1e-5, "superpixel " + j);
    }
    assertEquals(engine.bias, run.result().values().get("intercept"), 1e-5);
    assertEquals(1.0, run.result().values().get("r2"), 1e-6);
    assertEquals(engine.probability(image), run.result().values().get("local_prediction"), 1e-5);
  }

  @Test
  void theSeedMakesARequestRepeatableAndAnotherSeedDrawsOtherSamples() {
    float[] image = TestImages.sample(3);
    Map<String, String> params = Map.of("samples", "60", "seed", "7");
    float[] first = loaded.harness().run(new Lime(), params, image, 0).map("lime").tensor().data();
    float[] again = loaded.harness().run(new Lime(), params, image, 0).map("lime").tensor().data();
    float[] other = loaded.harness().run(new Lime(), Map.of("samples", "60", "seed", "8"), image,
        0).map("lime").tensor().data();

    assertArrayEquals(first, again, 0f);
    assertTrue(GradientMaps.l2(GradientMaps.difference(first, other)) > 0);
  }

  @Test
  void theBatchSizeChangesOnlyTheFramesNotTheResult() {
    float[] image = new float[SIDE * SIDE];
    LinearProbabilityEngine engine = linearModel(image);
    MethodHarness harness = new MethodHarness(engine, engine.model);

    MethodHarness.Run small = harness.run(new Lime(), Map.of("samples", "90", "batch", "7"),
        image, 0);
    MethodHarness.Run large = harness.run(new Lime(), Map.of("samples", "90", "batch", "90"),
        image, 0);

    assertArrayEquals(large.map("lime").tensor().data(), small.map("lime").tensor().data(), 0f);
    assertEquals(large.result().values(), small.result().values());
    assertEquals(13, small.frames().size(), "ceil(90 / 7) passes, a frame each");
    assertEquals(1 + 90, small.passes());
  }

  @Test
  void framesCarryTheRunningFit() {
    MethodHarness.Run run = loaded.harness().run(new Lime(),
        Map.of("samples", "100", "batch", "25"), TestImages.sample(5), 0);

    assertEquals(4, run.frames().size());
    assertEquals(100.0, run.frames().get(3).values().get("samples_done"));
    assertEquals(run.result().values().get("r2"), run.frames().get(3).values().get("r2"));
  }

  @Test
  void theMapIsEachPixelsSuperpixelWeightSplitIntoEvidenceForAndAgainst() {
    MethodHarness.Run run = loaded.harness().run(new Lime(), Map.of("samples", "80",
        "fill", "inverse"), TestImages.sample(9), 0);

    float[] map = run.map("lime").tensor().data();
    float[] labels = run.map("superpixels").tensor().data();
    float[] evidenceFor = run.map("evidence_for").tensor().data();
    float[] evidenceAgainst = run.map("evidence_against").tensor().data();
    for (int p = 0; p < map.length; p++) {
      double weight = run.result().values().get("weight_" + (int) labels[p]);
      assertEquals(weight, map[p], 1e-6 * Math.max(1, Math.abs(weight)));
      assertEquals(map[p], evidenceFor[p] - evidenceAgainst[p], 0f);
      assertTrue(evidenceFor[p] >= 0 && evidenceAgainst[p] >= 0);
    }
  }

  @Test
  void theBlurFillTakesOnePassForTheBlurredImage() {
    MethodHarness.Run run = loaded.harness().run(new Lime(),
        Map.of("fill", "blur", "samples", "20", "batch", "20"), TestImages.sample(6), 0);

    assertEquals(1 + 1 + 1, run.engineCalls(), "first pass, blur, the samples in one pass");
    assertEquals(1 + 1 + 20, run.passes());
  }

  @Test
  void lime_unknownFillIsInvalidNamingTheParameterAndTheChoices() {
    var error = assertThrows(SalientException.InvalidArgument.class,
        () -> new Lime().prepare(Map.of("fill", "purple")));

    assertTrue(error.getMessage().contains("fill=\"purple\""), error.getMessage());
    assertTrue(error.getMessage().contains("[black, white, grey, mean, blur, inverse]"),
        error.getMessage());
  }

  @Test
  void lime_tooFewSamplesIsInvalidNamingTheRange() {
    var error = assertThrows(SalientException.InvalidArgument.class,
        () -> new Lime().prepare(Map.of("samples", "1")));

    assertTrue(error.getMessage().contains("samples=\"1\""), error.getMessage());
    assertTrue(error.getMessage().contains("[2, 100000]"), error.getMessage());
  }
}
