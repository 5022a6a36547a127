package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.TestImages;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Deep Taylor decomposition with the z+ and zB rules (seed 002). */
class DeepTaylorTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void relevanceIsConservedLayerToLayerWithinOnePercentOnTheHundredHeldOutSamples() {
    double worst = 0;
    double lowestInputShare = Double.MAX_VALUE;
    List<LayerWalk> walks = walksOfTheHeldOutSamples();
    List<DeepTaylor.Relevance> relevances = heldOutRelevances();
    for (int i = 0; i < walks.size(); i++) {
      LayerWalk walk = walks.get(i);
      int predicted = argMax(walk.logits());
      DeepTaylor.Relevance relevance = relevances.get(i);
      double output = LayerOps.sum(relevance.atOutput());
      assertEquals(walk.logits()[predicted], output, 1e-6);
      assertTrue(output > 0, "sample " + i + ": the predicted class's logit is positive");
      double above = output;
      for (int layer = walk.layers().size() - 1; layer >= 0; layer--) {
        double sum = relevance.sumAtInput(layer);
        double change = Math.abs(sum - above) / above;
        worst = Math.max(worst, change);
        assertTrue(change <= 0.01, "sample " + i + " layer " + layer + ": " + sum + " after "
            + above);
        above = sum;
      }
      lowestInputShare = Math.min(lowestInputShare, relevance.sumAtInput(0) / output);
    }
    System.out.printf("deep_taylor on %d held-out samples: largest layer-to-layer change of the "
        + "relevance sum %.2e, lowest input/output relevance %.6f%n", walks.size(), worst,
        lowestInputShare);
  }

  @Test
  void everyInputRelevanceIsNonNegativeUnderZPlusAndZb() {
    List<DeepTaylor.Relevance> relevances = heldOutRelevances();
    for (int i = 0; i < relevances.size(); i++) {
      double[] input = relevances.get(i).atInputs().get(0);
      for (double v : input) {
        assertTrue(v >= 0, "sample " + i + ": input relevance " + v);
      }
    }
  }

  @Test
  void theResultReportsEachLayersRelevanceSumAndItsLargestChange() {
    float[] image = TestImages.sample(4);
    MethodHarness.Run run = loaded.harness().run(new DeepTaylor(), Map.of(), image,
        argMax(loaded.harness().logits(image)));
    Map<String, Double> values = run.result().values();
    double output = values.get("relevance_output");
    assertEquals(output, values.get("relevance_layer_9"), 1e-6 * output);
    assertEquals(output, values.get("relevance_layer_0"), 1e-6 * output);
    assertEquals(values.get("relevance_layer_0"), values.get("relevance_input"));
    assertTrue(values.get("conservation_max_relative_change") < 1e-6);
    assertEquals(0.0, values.get("negative_input_fraction"));
    float[] perChannel = run.map("per_channel").tensor().data();
    double sum = 0;
    for (float v : perChannel) {
      sum += v;
    }
    assertEquals(output, sum, 1e-4 * output);
  }

  private static List<LayerWalk> heldOutWalks;
  private static List<DeepTaylor.Relevance> heldOutRelevances;

  /** The walks of the 100 committed test images, in one engine call, made once. */
  private static synchronized List<LayerWalk> walksOfTheHeldOutSamples() {
    if (heldOutWalks == null) {
      List<float[]> images = new java.util.ArrayList<>();
      for (int i = 0; i < TestImages.count(); i++) {
        images.add(TestImages.sample(i));
      }
      heldOutWalks = loaded.engine().run(loaded.model().name(),
          new Pass(images, null, Pass.Extras.LAYER_WALK)).walks();
    }
    return heldOutWalks;
  }

  /** Each held-out sample's decomposition for its predicted class, made once. */
  private static synchronized List<DeepTaylor.Relevance> heldOutRelevances() {
    if (heldOutRelevances == null) {
      double[][] bounds = DeepTaylor.normalisedBounds(loaded.model().input());
      heldOutRelevances = walksOfTheHeldOutSamples().stream().map(walk -> DeepTaylor.decompose(
          walk, argMax(walk.logits()), bounds[0], bounds[1])).toList();
    }
    return heldOutRelevances;
  }

  @Test
  void zPlusOnALinearLayerSharesEachOutputsRelevanceByPositiveContribution() {
    // Two inputs (2, 1), two outputs; w = [[1, -1], [3, 1]] (rows are outputs).
    // Output 0: z+ = (2*1, 0) -> all of R0 = 6 to input 0.
    // Output 1: z+ = (2*3, 1*1) = (6, 1) -> R1 = 7 split 6 : 1.
    LayerWalk.Linear layer = new LayerWalk.Linear(new float[] {1, -1, 3, 1}, new float[2], 2, 2);
    double[] r = DeepTaylor.zPlus(layer, new float[] {2, 1}, new double[] {6, 7});
    assertArrayEquals(new double[] {6 + 6, 1}, r, 1e-12);
  }

  @Test
  void zbAtTheInputUsesTheBoundsAndConservesRelevance() {
    // One output, w = (2, -1), bounds [0, 1], x = (0.5, 0.25):
    // z_i = x w - l w+ - h w- = (0.5*2 - 0, -0.25 + 1) = (1, 0.75); R = 3.5 split 1 : 0.75.
    LayerWalk.Linear layer = new LayerWalk.Linear(new float[] {2, -1}, new float[1], 2, 1);
    double[] r = DeepTaylor.zB(layer, new float[] {0.5f, 0.25f}, new double[] {3.5},
        new double[] {0}, new double[] {1});
    assertArrayEquals(new double[] {2, 1.5}, r, 1e-12);
  }

  @Test
  void aFrameComesForEveryLayerWithItsRelevanceSum() {
    MethodHarness.Run run = loaded.harness().run(new DeepTaylor(), Map.of(),
        TestImages.sample(7), TestImages.label(7, loaded.model()),
        new MethodContext.FrameOptions(3, true));
    assertEquals(10, run.frames().size());
    assertEquals(List.of(9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0),
        run.frames().stream().map(f -> f.values().get("layer")).toList());
    assertTrue(run.frames().stream().allMatch(f -> f.values().containsKey("relevance_sum")));
    assertEquals(28 * 28, run.map("deep_taylor").tensor().data().length);
  }

  static int argMax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }
}
