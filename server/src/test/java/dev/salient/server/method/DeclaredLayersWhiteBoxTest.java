package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The white-box methods on TorchScript models whose model.json declares their layers: {@code
 * tiny-walkable} (a two-part export of conv 3x3, ReLU, flatten, linear) and {@code
 * fused-walkable} (one file: conv with its batch norm folded in, ReLU, max-pooling, twice, then
 * flatten, linear, ReLU, linear). The gradients they are checked against come from libtorch's
 * autograd through the module itself.
 */
class DeclaredLayersWhiteBoxTest {
  static final Path FIXTURES = Path.of("src/test/resources/models");
  static final Map<String, ModelPackage> MODELS = Map.of(
      "tiny-walkable", ModelPackage.read(FIXTURES.resolve("tiny-walkable")),
      "fused-walkable", ModelPackage.read(FIXTURES.resolve("fused-walkable")),
      "pooled-walkable", ModelPackage.read(FIXTURES.resolve("pooled-walkable")));

  @RegisterExtension
  static final LoadedEngine loaded =
      LoadedEngine.of(MODELS.get("tiny-walkable"), MODELS.get("fused-walkable"),
          MODELS.get("pooled-walkable"));

  private static MethodHarness harness(String model) {
    return new MethodHarness(loaded.engine(), MODELS.get(model));
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-walkable", "fused-walkable", "pooled-walkable"})
  void theWalkGivesTheModulesOwnLogit(String model) {
    for (int i = 0; i < 5; i++) {
      float[] image = randomImage(model, i);
      float[] logits = harness(model).logits(image);
      for (int target = 0; target < logits.length; target++) {
        MethodHarness.Run run = harness(model).run(RectifiedGradient.noBias(),
            Map.of("q", "0"), image, target);
        assertEquals(logits[target], run.result().values().get("target_logit"), 1e-5,
            "image " + i + ", class " + target);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-walkable", "fused-walkable", "pooled-walkable"})
  void rectgradAtPercentileZeroIsTheModulesGradientTimesInput(String model) {
    for (int i = 0; i < 10; i++) {
      float[] image = randomImage(model, i);
      int target = i % 3;
      MethodHarness.Run run = harness(model).run(RectifiedGradient.withInput(),
          Map.of("q", "0"), image, target);
      float[] gradient = run.context().logitGradient();
      float[] expected = new float[image.length];
      for (int k = 0; k < image.length; k++) {
        expected[k] = image[k] * gradient[k];
      }
      RectifiedGradientTest.assertClose(expected, run.map("per_channel").tensor().data());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-walkable", "fused-walkable", "pooled-walkable"})
  void rectgradNoBiasAtPercentileZeroIsTheModulesGradient(String model) {
    for (int i = 0; i < 10; i++) {
      float[] image = randomImage(model, i);
      MethodHarness.Run run = harness(model).run(RectifiedGradient.noBias(),
          Map.of("q", "0"), image, i % 3);
      RectifiedGradientTest.assertClose(run.context().logitGradient(), run.map("per_channel").tensor().data());
    }
  }

  @Test
  void rectgradCutsTheDeclaredReluLayer() {
    MethodHarness.Run run = harness("tiny-walkable").run(RectifiedGradient.withInput(),
        Map.of(), randomImage("tiny-walkable", 3), 0);
    Map<String, Double> values = run.result().values();
    assertEquals(1.0, values.get("relu_layers"));
    double kept = values.get("kept_fraction_layer_1");
    assertTrue(kept > 0 && kept < 0.5, "the ReLU layer kept " + kept + " of its active units");
    assertEquals(List.of("layer 3 linear", "layer 2 flatten", "layer 1 relu", "layer 0 conv"),
        run.frames().stream().map(f -> f.phase()).toList());
  }

  @ParameterizedTest
  @ValueSource(strings = {"tiny-walkable", "fused-walkable"})
  void deepTaylorConservesRelevanceThroughTheDeclaredLayers(String model) {
    for (int i = 0; i < 10; i++) {
      float[] image = randomImage(model, i);
      float[] logits = harness(model).logits(image);
      int target = argMax(logits);
      MethodHarness.Run run = harness(model).run(new DeepTaylor(), Map.of(), image, target);
      Map<String, Double> values = run.result().values();
      assertTrue(values.get("conservation_max_relative_change") < 1e-6, values.toString());
      assertEquals(0.0, values.get("negative_input_fraction"));
    }
  }

  @Test
  void deepTaylorDeclinesADeclaredAveragePoolingNamingIt() {
    var registry = MethodRegistry.standard();
    var refused = org.junit.jupiter.api.Assertions.assertThrows(
        dev.salient.server.util.SalientException.InvalidArgument.class,
        () -> registry.lookup(DeepTaylor.NAME, MODELS.get("pooled-walkable")));
    assertTrue(refused.getMessage().contains("avg_pool"), refused.getMessage());
    assertTrue(registry.supportedBy(MODELS.get("pooled-walkable")).stream()
        .anyMatch(m -> m.name().equals(RectifiedGradient.NAME)));
  }

  @Test
  void visualBackpropMultipliesTheDeclaredFeatureMapDownToTheInput() {
    MethodHarness.Run run = harness("fused-walkable").run(new VisualBackprop(), Map.of(),
        randomImage("fused-walkable", 2), 0);
    float[] map = run.map("visual_backprop").tensor().data();
    assertEquals(16 * 16, map.length);
    double max = 0;
    for (float v : map) {
      assertTrue(v >= 0, "a product of ReLU channel means is never negative: " + v);
      max = Math.max(max, v);
    }
    assertTrue(max > 0);
    assertEquals(2.0, run.result().values().get("feature_levels"));
  }

  private static float[] randomImage(String model, int seed) {
    InputSpec in = MODELS.get(model).input();
    Random random = new Random(100 + seed);
    float[] image = new float[in.channels() * in.height() * in.width()];
    for (int k = 0; k < image.length; k++) {
      image[k] = random.nextFloat();
    }
    return image;
  }

  private static int argMax(float[] v) {
    int best = 0;
    for (int k = 1; k < v.length; k++) {
      if (v[k] > v[best]) {
        best = k;
      }
    }
    return best;
  }
}
