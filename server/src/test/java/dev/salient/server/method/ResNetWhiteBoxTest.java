package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.RandomWeights;
import dev.salient.server.engine.builtin.ResNet18;
import dev.salient.server.util.SalientException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The white-box methods on the built-in ResNet-18 (random weights, seed 18): its walk is the
 * model's forward pass, Rectified Gradient at q = 0 is the engine's own gradient (times the
 * input), VisualBackProp follows the main path down to the input, Deep Taylor declines it.
 */
class ResNetWhiteBoxTest {
  @TempDir static Path dir;
  static ModelPackage resnet;
  static InferenceEngine engine;
  static MethodHarness harness;

  @BeforeAll
  static void load() throws IOException {
    InputSpec in = new InputSpec(3, 224, 224, 0f, 1f, new float[] {0.485f, 0.456f, 0.406f},
        new float[] {0.229f, 0.224f, 0.225f});
    List<String> labels = IntStream.range(0, 1000).mapToObj(i -> "class" + i).toList();
    resnet = RandomWeights.writePackage(dir.resolve("resnet18"), "resnet18", ResNet18.ID, in,
        labels, 18);
    engine = InferenceEngine.load("cpu", List.of(resnet));
    harness = new MethodHarness(engine, resnet);
  }

  @AfterAll
  static void close() {
    if (engine != null) {
      engine.close();
    }
  }

  @Test
  void theWalkIsTheGraphOfResNet18AndEndsInTheModelsLogits() {
    float[] image = randomImage(1);
    LayerWalk walk = engine.run(resnet.name(), new Pass(List.of(image), null,
        Pass.Extras.LAYER_WALK)).walks().get(0);
    float[] logits = harness.logits(image);

    // Stem 4, five identity blocks of 7 layers, three projection blocks of 9, pool, flatten,
    // linear.
    assertEquals(4 + 5 * 7 + 3 * 9 + 3, walk.layers().size());
    assertEquals(EnumSet.allOf(LayerWalk.Kind.class), LayerWalk.kinds(resnet));
    assertEquals(LayerWalk.kinds(resnet), EnumSet.copyOf(walk.layers().stream()
        .map(LayerWalk.Layer::kind).toList()));
    assertEquals(17, walk.layers().stream().filter(l -> l.kind() == LayerWalk.Kind.RELU).count());
    assertEquals(8, walk.layers().stream().filter(l -> l.kind() == LayerWalk.Kind.ADD).count());
    assertClose(logits, walk.logits(), 1e-4);
  }

  @Test
  void rectgradAtPercentileZeroIsGradientTimesInput() {
    for (int seed = 0; seed < 2; seed++) {
      float[] image = randomImage(seed);
      int target = argmax(harness.logits(image));
      long start = System.nanoTime();
      MethodHarness.Run run = harness.run(RectifiedGradient.withInput(), Map.of("q", "0"),
          image, target);
      System.out.printf("rectgrad q=0 on ResNet-18 224x224: %d ms (walk and sweep)%n",
          (System.nanoTime() - start) / 1_000_000);
      float[] gradient = run.context().logitGradient();
      float[] expected = new float[image.length];
      for (int k = 0; k < image.length; k++) {
        expected[k] = image[k] * gradient[k];
      }
      assertClose(expected, run.map("per_channel").tensor().data(), 1e-3);
    }
  }

  @Test
  void noBiasAtPercentileZeroIsThePlainGradient() {
    float[] image = randomImage(2);
    MethodHarness.Run run = harness.run(RectifiedGradient.noBias(), Map.of("q", "0"), image, 7);
    assertClose(run.context().logitGradient(), run.map("per_channel").tensor().data(), 1e-3);
  }

  @Test
  void theBackwardSweepIsTheSameEveryTime() {
    // Timing printed for docs/methods/whitebox.md, not asserted: the sweep alone, the Java
    // arithmetic the device worker runs in onPassResult, median of five.
    LayerWalk walk = engine.run(resnet.name(), new Pass(List.of(randomImage(5)), null,
        Pass.Extras.LAYER_WALK)).walks().get(0);
    for (double q : new double[] {98, 0}) {
      long[] millis = new long[5];
      double[] first = null;
      for (int r = 0; r < millis.length; r++) {
        long start = System.nanoTime();
        double[] gradient = RectifiedGradient.sweep(walk, 3, q).inputGradient();
        millis[r] = (System.nanoTime() - start) / 1_000_000;
        if (first == null) {
          first = gradient;
        } else {
          assertTrue(Arrays.equals(first, gradient), "sweep " + r + " at q=" + q);
        }
      }
      Arrays.sort(millis);
      System.out.printf("rectgrad sweep on ResNet-18 224x224, q=%.0f: %d ms (median of 5: %s)%n",
          q, millis[2], Arrays.toString(millis));
    }
  }

  @Test
  void theDefaultPercentileCutsAllSeventeenReluLayers() {
    float[] image = randomImage(3);
    long start = System.nanoTime();
    MethodHarness.Run run = harness.run(RectifiedGradient.withInput(), Map.of(), image, 3);
    System.out.printf("rectgrad q=98 on ResNet-18 224x224: %d ms (walk and sweep)%n",
        (System.nanoTime() - start) / 1_000_000);
    Map<String, Double> values = run.result().values();
    assertEquals(17.0, values.get("relu_layers"));
    assertEquals(4 + 5 * 7 + 3 * 9 + 3, run.frames().size());
    double nonZero = values.get("map_nonzero_fraction");
    assertTrue(nonZero > 0 && nonZero < 1, "non-zero fraction " + nonZero);
  }

  @Test
  void visualBackpropMultipliesTheStemAndEachBlocksOutputDownToANonNegativeInputMap() {
    float[] image = randomImage(4);
    LayerWalk walk = engine.run(resnet.name(), new Pass(List.of(image), null,
        Pass.Extras.LAYER_WALK)).walks().get(0);

    List<VisualBackprop.Level> levels = VisualBackprop.sweep(walk);

    // The stem's ReLU and the eight blocks' output ReLUs, deepest first, then the input.
    assertEquals(10, levels.size());
    assertEquals(2, levels.get(8).layer());
    int[] sides = {7, 7, 14, 14, 28, 28, 56, 56, 112, 224};
    for (int k = 0; k < levels.size(); k++) {
      VisualBackprop.Level level = levels.get(k);
      assertEquals(sides[k], level.height(), "level " + k);
      if (level.layer() >= 0) {
        assertEquals(LayerWalk.Kind.RELU, walk.layers().get(level.layer()).kind());
      }
    }
    double[] map = levels.get(9).map();
    assertEquals(224 * 224, map.length);
    double max = 0;
    for (double v : map) {
      assertTrue(v >= 0, "VisualBackProp multiplies means of ReLU outputs: " + v);
      max = Math.max(max, v);
    }
    assertTrue(max > 0);
    MethodHarness.Run run = harness.run(new VisualBackprop(), Map.of(), image, 0);
    assertEquals(224 * 224, run.map("visual_backprop").tensor().data().length);
  }

  @Test
  void deepTaylorDeclinesResNet18NamingTheLayerKindsItHasNoRuleFor() {
    MethodRegistry registry = MethodRegistry.standard();
    List<String> supported = registry.supportedBy(resnet).stream()
        .map(ExplanationMethod::name).toList();
    assertTrue(supported.containsAll(List.of("rectgrad", "rectgrad_nobias", "visual_backprop")),
        supported.toString());
    assertFalse(supported.contains("deep_taylor"), supported.toString());

    var error = assertThrows(SalientException.InvalidArgument.class,
        () -> registry.lookup("deep_taylor", resnet));
    assertTrue(error.getMessage().contains("has batch_norm, add, avg_pool layers, which "
        + "deep_taylor has no rule for"), error.getMessage());
  }

  /** Uniform pixels in [0, 1], channel-major. */
  private static float[] randomImage(int seed) {
    Random random = new Random(seed);
    float[] image = new float[3 * 224 * 224];
    for (int k = 0; k < image.length; k++) {
      image[k] = random.nextFloat();
    }
    return image;
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  /** Equal within {@code relative} of the largest |expected|. */
  private static void assertClose(float[] expected, float[] actual, double relative) {
    assertEquals(expected.length, actual.length);
    double max = 0;
    for (float v : expected) {
      max = Math.max(max, Math.abs(v));
    }
    assertTrue(max > 0, "all-zero expectation");
    double worst = 0;
    for (int k = 0; k < expected.length; k++) {
      worst = Math.max(worst, Math.abs(expected[k] - actual[k]));
    }
    assertTrue(worst <= relative * max, "largest difference " + worst + " against max " + max);
  }
}
