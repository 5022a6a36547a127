package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.Pass;
import dev.salient.server.engine.TestImages;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The vanilla gradient against the engine's own gradient pass. */
class VanillaGradientTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void logitSaliencyIsTheAbsoluteGradientOfAFreshPass() {
    float[] image = TestImages.sample(7);
    float[] expected = loaded.engine().run(loaded.model().name(),
        Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {4}, 10)).gradients().get(0);

    MethodHarness.Run run = loaded.harness().run(new VanillaGradient(), Map.of(), image, 4);

    float[] saliency = run.map("saliency").tensor().data();
    for (int i = 0; i < expected.length; i++) {
      assertEquals(Math.abs(expected[i]), saliency[i], 1e-6f);
    }
    assertEquals(1, run.passes(), "the gradient comes with the first pass");
  }

  @Test
  void probabilityOutputTakesItsOwnGradientPass() {
    // The first pass carries the logit's gradient only: a probability objective needs its own.
    float[] image = TestImages.sample(12);
    float[] expected = loaded.engine().run(loaded.model().name(), Pass.gradient(List.of(image),
        Pass.Output.PROBABILITY, new int[] {2}, 10)).gradients().get(0);

    MethodHarness.Run run = loaded.harness().run(new VanillaGradient(),
        Map.of("output", "probability", "reduction", "signed"), image, 2);

    assertArrayEquals(expected, run.map("saliency").tensor().data(), 1e-7f);
    assertEquals(2, run.passes());
  }
}
