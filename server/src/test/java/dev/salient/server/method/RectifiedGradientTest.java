package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.util.SalientException;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Rectified Gradient and its no-bias modification (seed 003, eq. 1-2). */
class RectifiedGradientTest {
  @RegisterExtension
  static final LoadedEngine loaded =
      LoadedEngine.of(LoadedEngine.fashionMnist(), LoadedEngine.tinyColour());

  @Test
  void rectgradAtPercentileZeroIsGradientTimesInput() {
    for (int i = 0; i < 10; i++) {
      float[] image = noisySample(i);
      MethodHarness.Run run = loaded.harness().run(RectifiedGradient.withInput(),
          Map.of("q", "0"), image, TestImages.label(i, loaded.model()));
      float[] gradient = run.context().logitGradient();
      float[] expected = new float[image.length];
      for (int k = 0; k < image.length; k++) {
        expected[k] = image[k] * gradient[k];
      }
      assertClose(expected, run.map("per_channel").tensor().data());
    }
  }

  @Test
  void noBiasAtPercentileZeroIsThePlainGradient() {
    for (int i = 0; i < 10; i++) {
      float[] image = noisySample(i);
      MethodHarness.Run run = loaded.harness().run(RectifiedGradient.noBias(),
          Map.of("q", "0"), image, TestImages.label(i, loaded.model()));
      assertClose(run.context().logitGradient(), run.map("per_channel").tensor().data());
      assertClose(run.context().logitGradient(), run.map("rectgrad_nobias").tensor().data());
    }
  }

  @Test
  void theDefaultPercentileCutsEachReluLayerAndZeroPixelsScoreZero() {
    float[] image = TestImages.sample(3);
    MethodHarness.Run run = loaded.harness().run(RectifiedGradient.withInput(), Map.of(), image,
        TestImages.label(3, loaded.model()));
    Map<String, Double> values = run.result().values();
    assertEquals(98.0, values.get("q"));
    assertEquals(3.0, values.get("relu_layers"));
    for (String layer : List.of("1", "4", "8")) {
      double kept = values.get("kept_fraction_layer_" + layer);
      assertTrue(kept > 0 && kept < 0.5, "layer " + layer + " kept " + kept);
    }
    float[] map = run.map("rectgrad").tensor().data();
    int zeroPixels = 0;
    for (int k = 0; k < image.length; k++) {
      if (image[k] == 0f) {
        zeroPixels++;
        assertEquals(0f, map[k], "pixel " + k + " is black, its score must be 0");
      }
    }
    assertTrue(zeroPixels > 100, "the sample has a black background");
  }

  @Test
  void aFrameComesForEveryLayerOfTheBackwardSweep() {
    MethodHarness.Run run = loaded.harness().run(RectifiedGradient.noBias(), Map.of(),
        TestImages.sample(0), 0, new MethodContext.FrameOptions(3, true));
    List<ExplainEvent.Frame> frames = run.frames();
    assertEquals(List.of("layer 9 linear", "layer 8 relu", "layer 7 linear", "layer 6 flatten",
        "layer 5 max_pool", "layer 4 relu", "layer 3 conv", "layer 2 max_pool", "layer 1 relu",
        "layer 0 conv"), frames.stream().map(ExplainEvent.Frame::phase).toList());
    for (int s = 0; s < frames.size(); s++) {
      assertEquals(s + 1, frames.get(s).step());
    }
    // Layers that take feature maps show the gradient there, at the input's size.
    assertEquals(null, frames.get(0).map());
    assertEquals(28 * 28, frames.get(9).map().data().length);
    assertTrue(frames.get(1).values().containsKey("threshold"));
    assertEquals(10, run.result().steps());
  }

  @Test
  void aModelWhoseLayersCannotBeWalkedIsRefusedNamingWhatItLacks() {
    MethodRegistry registry = MethodRegistry.standard();
    for (String name : List.of("rectgrad", "rectgrad_nobias", "deep_taylor", "visual_backprop")) {
      assertTrue(registry.supportedBy(loaded.model()).stream()
          .anyMatch(m -> m.name().equals(name)));
      assertFalse(registry.supportedBy(LoadedEngine.tinyColour()).stream()
          .anyMatch(m -> m.name().equals(name)));
      SalientException.InvalidArgument refused = assertThrows(
          SalientException.InvalidArgument.class,
          () -> registry.lookup(name, LoadedEngine.tinyColour()));
      assertTrue(refused.getMessage().contains("TorchScript model whose model.json declares its"),
          refused.getMessage());
    }
  }

  @Test
  void aPercentileOutsideZeroToHundredIsRefused() {
    assertThrows(SalientException.InvalidArgument.class,
        () -> RectifiedGradient.withInput().prepare(Map.of("q", "101")));
  }

  /** A sample with a little noise: ties in max-pool windows of constant areas are kinks. */
  static float[] noisySample(int i) {
    float[] image = TestImages.sample(i);
    Random noise = new Random(i);
    for (int k = 0; k < image.length; k++) {
      image[k] = Math.min(1f, image[k] + 0.05f * noise.nextFloat());
    }
    return image;
  }

  static void assertClose(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    double scale = 0;
    for (float v : expected) {
      scale = Math.max(scale, Math.abs(v));
    }
    assertTrue(scale > 0);
    for (int k = 0; k < expected.length; k++) {
      assertEquals(expected[k], actual[k], 1e-5 * scale, "entry " + k);
    }
  }
}
