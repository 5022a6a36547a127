package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.TestImages;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Signed saliency (seed 001, eq. 3-4) against the engine's gradient. */
class SignedSaliencyTest {
  static final ModelPackage fashion = LoadedEngine.fashionMnist();
  static final ModelPackage colour = LoadedEngine.tinyColour();

  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(fashion, colour);

  @Test
  void positiveMinusNegativeIsTheGradientOfAGreyImage() {
    float[] image = TestImages.sample(33);
    float[] gradient = gradient(fashion, image, 5, Pass.Output.LOGIT);

    MethodHarness.Run run = new MethodHarness(loaded.engine(), fashion)
        .run(new SignedSaliency(), Map.of(), image, 5);

    float[] positive = run.map("positive").tensor().data();
    float[] negative = run.map("negative").tensor().data();
    for (int i = 0; i < gradient.length; i++) {
      assertEquals(Math.max(0, gradient[i]), positive[i], 0f, "ReLU(g) at " + i);
      assertEquals(Math.max(0, -gradient[i]), negative[i], 0f, "ReLU(-g) at " + i);
    }
    assertArrayEquals(gradient, run.map("signed").tensor().data(), 0f);
    assertEquals(1, run.passes(), "the logit's gradient comes with the first pass");
  }

  @Test
  void positiveMinusNegativeIsTheDominantChannelWhereAllChannelsAgreeInSign() {
    // With one sign in every channel, max ReLU(g) - max ReLU(-g) is the channel of largest |g|.
    float[] image = new float[colour.input().size()];
    Random random = new Random(17);
    for (int i = 0; i < image.length; i++) {
      image[i] = random.nextFloat();
    }
    float[] g = gradient(colour, image, 1, Pass.Output.LOGIT);

    float[] signed = new MethodHarness(loaded.engine(), colour)
        .run(new SignedSaliency(), Map.of(), image, 1).map("signed").tensor().data();

    int pixels = signed.length;
    int agreeing = 0;
    for (int p = 0; p < pixels; p++) {
      float r = g[p];
      float gg = g[pixels + p];
      float b = g[2 * pixels + p];
      boolean sameSign = (r > 0 && gg > 0 && b > 0) || (r < 0 && gg < 0 && b < 0);
      if (sameSign) {
        agreeing++;
        float dominant = Math.abs(r) >= Math.abs(gg) && Math.abs(r) >= Math.abs(b) ? r
            : Math.abs(gg) >= Math.abs(b) ? gg : b;
        assertEquals(dominant, signed[p], 0f, "pixel " + p);
      }
    }
    assertTrue(agreeing > pixels / 10, "pixels whose channels agree in sign: " + agreeing);
  }

  @Test
  void probabilityOutputDifferentiatesTheProbabilityInAPassOfItsOwn() {
    float[] image = TestImages.sample(61);
    float[] gradient = gradient(fashion, image, 6, Pass.Output.PROBABILITY);

    MethodHarness.Run run = new MethodHarness(loaded.engine(), fashion)
        .run(new SignedSaliency(), Map.of("output", "probability"), image, 6);

    assertArrayEquals(gradient, run.map("signed").tensor().data(), 1e-9f);
    assertEquals(2, run.passes());
  }

  private static float[] gradient(ModelPackage model, float[] image, int target,
      Pass.Output output) {
    return loaded.engine().run(model.name(), Pass.gradient(List.of(image), output,
        new int[] {target}, model.numClasses())).gradients().get(0);
  }
}
