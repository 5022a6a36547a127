package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * libtorch 2.7.1's oneDNN convolution backward gives wrong input gradients, in batches of two or
 * more, for convolutions of few output channels at stride 1 (and now and then NaN). The engine
 * measures each model at load and runs the gradient passes of such a model without oneDNN, so a
 * batched gradient is the gradient each image has alone.
 */
class OneDnnGradientTest {
  static final Path FIXTURES = Path.of("src/test/resources/models");

  @Test
  void modelsWithFewChannelConvolutionsRunTheirGradientsWithoutOneDnnAndOthersWithIt() {
    ModelPackage twoPart = ModelPackage.read(FIXTURES.resolve("tiny-two-part"));
    ModelPackage tiny = ModelPackage.read(FIXTURES.resolve("tiny-torchscript"));
    ModelPackage colour = ModelPackage.read(FIXTURES.resolve("colour-224"));
    ModelPackage fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    try (InferenceEngine engine =
        InferenceEngine.load("cpu", List.of(twoPart, tiny, colour, fashion))) {
      // tiny-two-part: 1 -> 2 channels, 3x3, stride 1; tiny-torchscript: 3 -> 8 channels.
      assertTrue(engine.gradientsWithoutOneDnn(twoPart.name()));
      assertTrue(engine.gradientsWithoutOneDnn(tiny.name()));
      // 16 or more channels, or stride 2 where there are fewer: oneDNN is right.
      assertFalse(engine.gradientsWithoutOneDnn(colour.name()));
      assertFalse(engine.gradientsWithoutOneDnn(fashion.name()));
      assertTrue(OneDnn.enabled(), "the check leaves oneDNN on for the others");
    }
  }

  @Test
  void aBatchedGradientIsEachImagesGradientAloneOnEveryPass() {
    for (String name : List.of("tiny-two-part", "tiny-torchscript")) {
      ModelPackage pkg = ModelPackage.read(FIXTURES.resolve(name));
      try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(pkg))) {
        List<float[]> images = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          images.add(InferenceEngineTest.randomImage(pkg.input(), new Random(i)));
        }
        int[] targets = {0, 1, 2, 0};
        List<float[]> alone = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          alone.add(engine.run(name, Pass.gradient(List.of(images.get(i)), Pass.Output.LOGIT,
              new int[] {targets[i]}, pkg.numClasses())).gradients().get(0));
        }
        Pass batch = Pass.gradient(images, Pass.Output.LOGIT, targets, pkg.numClasses());
        for (int run = 0; run < 300; run++) {
          PassResult together = engine.run(name, batch);
          for (int i = 0; i < 4; i++) {
            assertClose(alone.get(i), together.gradients().get(i), name + " run " + run);
          }
        }
      }
    }
  }

  private static void assertClose(float[] expected, float[] actual, String where) {
    assertEquals(expected.length, actual.length);
    float scale = 0;
    for (float v : expected) {
      scale = Math.max(scale, Math.abs(v));
    }
    assertArrayEquals(expected, actual, 1e-5f * scale, where);
  }
}
