package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.TestImages;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** SmoothGrad (seed 004, eq. 1-2) and its squared and variance variants. */
class SmoothGradTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void zeroNoiseEqualsTheVanillaGradient() {
    float[] image = TestImages.sample(52);
    for (String reduction : new String[] {"max_abs", "signed"}) {
      float[] vanilla = loaded.harness().run(new VanillaGradient(), Map.of("reduction", reduction),
          image, 5).map("saliency").tensor().data();

      MethodHarness.Run smooth = loaded.harness().run(new SmoothGrad(),
          Map.of("noise", "0", "samples", "12", "batch", "5", "reduction", reduction), image, 5);

      assertArrayEquals(vanilla, smooth.map("smoothgrad").tensor().data(), 1e-6f, reduction);
      for (float v : smooth.map("vargrad").tensor().data()) {
        assertEquals(0f, v, 1e-12f, "no noise, no variance");
      }
    }
  }

  @Test
  void squaredMapIsTheMeanSquareAndVarGradTheVarianceOfTheSamples() {
    // One channel: E[g^2] = Var[g] + E[g]^2 pixel by pixel.
    MethodHarness.Run run = loaded.harness().run(new SmoothGrad(), Map.of("samples", "20"),
        TestImages.sample(8), 0);
    float[] mean = run.map("mean_gradient").tensor().data();
    float[] squared = run.map("smoothgrad_squared").tensor().data();
    float[] variance = run.map("vargrad").tensor().data();
    double largest = GradientMaps.maxAbs(squared);
    for (int p = 0; p < mean.length; p++) {
      assertEquals(squared[p], variance[p] + mean[p] * mean[p], 1e-5 * largest, "pixel " + p);
    }
    assertTrue(GradientMaps.maxAbs(variance) > 0, "noise makes the gradient vary");
  }

  @Test
  void samplesRunInPassesOfBatchWithOneFrameEach() {
    MethodHarness.Run run = loaded.harness().run(new SmoothGrad(),
        Map.of("samples", "23", "batch", "10"), TestImages.sample(71), 7);

    assertEquals(1 + 3, run.engineCalls(), "the first pass, then 10 + 10 + 3 samples");
    assertEquals(1 + 23, run.passes());
    assertEquals(3, run.frames().size());
    assertEquals(23.0, run.result().values().get("samples"));
  }

  static float[] smoothGrad(Map<String, String> parameters, float[] image) {
    return loaded.harness().run(new SmoothGrad(), parameters, image, 1).map("smoothgrad").tensor()
        .data();
  }

  @Test
  void theSeedMakesARequestRepeatable() {
    float[] image = TestImages.sample(19);
    float[] first = smoothGrad(Map.of("samples", "8", "seed", "4"), image);
    float[] again = smoothGrad(Map.of("samples", "8", "seed", "4"), image);
    float[] other = smoothGrad(Map.of("samples", "8", "seed", "5"), image);

    assertArrayEquals(first, again, 0f);
    assertTrue(GradientMaps.l2(GradientMaps.difference(first, other)) > 0,
        "another seed draws other noise");
  }
}
