package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.builtin.FashionCnn;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Passes split at the feature layer: two-part TorchScript, split builtin blocks, random models. */
class FeatureLayerPassTest {
  static final Path TWO_PART_FIXTURE = Path.of("src/test/resources/models/tiny-two-part");

  static InferenceEngine engine;
  static ModelPackage twoPart;
  static ModelPackage single;

  @BeforeAll
  static void load() {
    twoPart = ModelPackage.read(TWO_PART_FIXTURE);
    single = ModelPackage.read(InferenceEngineTest.TORCHSCRIPT_FIXTURE);
    engine = InferenceEngine.load("cpu", List.of(twoPart, single));
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void twoPartExportRunsAsPyTorchDoes() {
    // make_fixture.py prints head(features(linspace(0, 1))); mean 0 and std 1 leave it as is.
    float[] pixels = new float[36];
    for (int i = 0; i < 36; i++) {
      pixels[i] = i / 35f;
    }
    float[] logits = engine.run(twoPart.name(), Pass.forward(List.of(pixels))).logits().get(0);
    assertArrayEquals(new float[] {1.114846f, -1.312083f, 1.18648f}, logits, 2e-5f);
  }

  @Test
  void featureGradientOfTheLinearHeadIsItsWeightRow() {
    // head = flatten + linear: d logit_c / d A[f] = W[c, f] = 0.3 sin(1 + 72 c + f).
    float[] image = InferenceEngineTest.randomImage(twoPart.input(), new Random(4));
    PassResult r = engine.run(twoPart.name(),
        Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {2}, 3)
            .with(Pass.Extras.FEATURE_LAYER));
    assertArrayEquals(new long[] {2, 6, 6}, r.featureShape());
    float[] expected = new float[72];
    for (int f = 0; f < 72; f++) {
      expected[f] = (float) (0.3 * Math.sin(1 + 72 * 2 + f));
    }
    assertArrayEquals(expected, r.featureGradients().get(0), 1e-6f);
  }

  @Test
  void featurePassKeepsTheLogitsAndInputGradientOfAPlainPass() {
    float[] a = InferenceEngineTest.randomImage(twoPart.input(), new Random(5));
    float[] b = InferenceEngineTest.randomImage(twoPart.input(), new Random(6));
    Pass plain = Pass.gradient(List.of(a, b), Pass.Output.PROBABILITY, new int[] {0, 1}, 3);
    PassResult withoutFeatures = engine.run(twoPart.name(), plain);
    PassResult withFeatures = engine.run(twoPart.name(), plain.with(Pass.Extras.FEATURE_LAYER));

    for (int i = 0; i < 2; i++) {
      assertArrayEquals(withoutFeatures.logits().get(i), withFeatures.logits().get(i), 0f);
      assertArrayEquals(withoutFeatures.gradients().get(i), withFeatures.gradients().get(i),
          1e-7f);
    }
    assertEquals(2, withFeatures.features().size());
  }

  @Test
  void forwardPassWithFeaturesReturnsActivationsWithoutGradients() {
    float[] image = InferenceEngineTest.randomImage(twoPart.input(), new Random(7));
    PassResult r = engine.run(twoPart.name(),
        Pass.forward(List.of(image)).with(Pass.Extras.FEATURE_LAYER));
    assertEquals(72, r.features().get(0).length);
    assertNull(r.featureGradients());
    for (float v : r.features().get(0)) {
      assertTrue(v >= 0, "features are taken after the ReLU");
    }
  }

  @Test
  void slicingABatchKeepsEachRowsFeatures() {
    float[] a = InferenceEngineTest.randomImage(twoPart.input(), new Random(8));
    float[] b = InferenceEngineTest.randomImage(twoPart.input(), new Random(9));
    PassResult r = engine.run(twoPart.name(), Pass.gradient(List.of(a, b), Pass.Output.LOGIT,
        new int[] {0, 2}, 3).with(Pass.Extras.FEATURE_LAYER));

    PassResult second = r.slice(1, 2);

    assertArrayEquals(r.features().get(1), second.features().get(0), 0f);
    assertArrayEquals(r.featureGradients().get(1), second.featureGradients().get(0), 0f);
    assertArrayEquals(r.featureShape(), second.featureShape());
  }

  @Test
  void featurePassesLeaveNoNativeArraysBehind() {
    float[] image = InferenceEngineTest.randomImage(twoPart.input(), new Random(10));
    Pass withGradient = Pass.gradient(List.of(image, image), Pass.Output.LOGIT, new int[] {0, 1},
        3).with(Pass.Extras.FEATURE_LAYER);
    Pass forwardOnly = Pass.forward(List.of(image)).with(Pass.Extras.FEATURE_LAYER);
    engine.run(twoPart.name(), withGradient);
    int before = engine.liveArrays();

    for (int i = 0; i < 20; i++) {
      engine.run(twoPart.name(), withGradient);
      engine.run(twoPart.name(), forwardOnly);
    }

    assertEquals(before, engine.liveArrays());
  }

  @Test
  void featuresOfAModelWithoutFeatureLayerAreRefused() {
    float[] image = InferenceEngineTest.randomImage(single.input(), new Random(1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> engine.run(single.name(), Pass.forward(List.of(image))
            .with(Pass.Extras.FEATURE_LAYER)));
    assertTrue(e.getMessage().contains("no feature layer"), e.getMessage());
  }

  @Test
  void builtinSplitAtALayerKeepsTheLogitsAndInputGradient() {
    ModelPackage split = builtin("0");
    try (InferenceEngine random = InferenceEngine.loadRandomlyInitialised("cpu", split, 3)) {
      float[] image = InferenceEngineTest.randomImage(split.input(), new Random(2));
      Pass plain = Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {4}, 10);

      PassResult withoutFeatures = random.run(split.name(), plain);
      PassResult withFeatures = random.run(split.name(), plain.with(Pass.Extras.FEATURE_LAYER));

      assertArrayEquals(withoutFeatures.logits().get(0), withFeatures.logits().get(0), 1e-6f);
      assertArrayEquals(withoutFeatures.gradients().get(0), withFeatures.gradients().get(0),
          1e-6f);
      // Layer 0 is the first convolution: 32 filters, padding 1, full resolution.
      assertArrayEquals(new long[] {32, 28, 28}, withFeatures.featureShape());
    }
  }

  @Test
  void defaultModelSplitsAfterTheLastConvolutionsReLU() {
    ModelPackage fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    List<ai.djl.nn.Block> layers = FashionCnn.newBlock().getChildren().values();

    assertEquals(Integer.toString(FashionCnn.FEATURE_LAYER), fashion.featureLayer());
    assertTrue(layers.get(FashionCnn.FEATURE_LAYER - 1) instanceof ai.djl.nn.convolutional.Conv2d);
    for (ai.djl.nn.Block later : layers.subList(FashionCnn.FEATURE_LAYER, layers.size())) {
      assertTrue(!(later instanceof ai.djl.nn.convolutional.Conv2d), "no convolution after it");
    }
    try (InferenceEngine trained = InferenceEngine.load("cpu", List.of(fashion))) {
      PassResult r = trained.run(fashion.name(), Pass.forward(List.of(TestImages.sample(0)))
          .with(Pass.Extras.FEATURE_LAYER));
      assertArrayEquals(new long[] {64, 14, 14}, r.featureShape());
    }
  }

  @Test
  void randomlyInitialisedModelsAreRepeatableForASeed() {
    ModelPackage plain = builtin(null);
    float[] image = InferenceEngineTest.randomImage(plain.input(), new Random(3));
    float[] first = randomLogits(plain, 11, image);
    float[] again = randomLogits(plain, 11, image);
    float[] other = randomLogits(plain, 12, image);

    assertArrayEquals(first, again, 0f);
    assertTrue(IntStream.range(0, first.length).anyMatch(i -> first[i] != other[i]),
        "another seed gives other weights");
  }

  @Test
  void builtinFeatureLayerMustBeASpatialLayerIndex() {
    int layers = FashionCnn.newBlock().getChildren().size();
    for (String bad : new String[] {"conv3", "-1", Integer.toString(layers - 1),
        Integer.toString(layers - 2)}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> InferenceEngine.loadRandomlyInitialised("cpu", builtin(bad), 1).close(), bad);
      assertTrue(e.getMessage().contains("feature_layer"), e.getMessage());
    }
  }

  private static float[] randomLogits(ModelPackage pkg, int seed, float[] image) {
    try (InferenceEngine random = InferenceEngine.loadRandomlyInitialised("cpu", pkg, seed)) {
      return random.run(pkg.name(), Pass.forward(List.of(image))).logits().get(0);
    }
  }

  /** A package of the builtin architecture that needs no weights file (random weights only). */
  private static ModelPackage builtin(String featureLayer) {
    List<String> labels = IntStream.range(0, 10).mapToObj(i -> "class" + i).toList();
    return new ModelPackage("random-cnn", "", ModelPackage.Format.BUILTIN, FashionCnn.ID,
        "none", labels, new InputSpec(1, 28, 28, 0f, 1f, new float[] {0.3f}, new float[] {0.35f}),
        featureLayer, Map.of(), new ModelPackage.DirectoryLocation(Path.of(".")));
  }
}
