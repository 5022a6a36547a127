package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.TestImages;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Occlusion sensitivity (Zeiler and Fergus 2014): the drop in p when a patch hides a region. */
class OcclusionTest {
  @RegisterExtension
  static final LoadedEngine loaded =
      LoadedEngine.of(LoadedEngine.tinyColour(), LoadedEngine.fashionMnist());

  @Test
  void aFillEqualToTheImageGivesAZeroMap() {
    // A constant colour image: each patch's own mean is the image, so no patch changes it.
    float[] image = new float[3 * 16 * 16];
    for (int p = 0; p < image.length; p++) {
      image[p] = 0.2f + 0.3f * (p / 256);
    }
    MethodHarness.Run run = loaded.harness().run(new Occlusion(),
        Map.of("fill", "mean", "patch", "5", "stride", "3", "batch", "4"), image, 0);

    for (float v : run.map("occlusion").tensor().data()) {
      assertEquals(0f, v, 1e-6f);
    }
  }

  @Test
  void patchPositionsCoverEveryPixelWithTheLastFlushWithTheEdge() {
    assertEquals(List.of(0, 3, 6, 9, 11), Occlusion.offsets(16, 5, 3));
    assertEquals(List.of(0, 2, 4), Occlusion.offsets(8, 4, 2));
    assertEquals(List.of(0), Occlusion.offsets(4, 4, 9));
  }

  @Test
  void eachPixelIsTheMeanDropOverThePatchesCoveringIt() {
    // Patches of 16 with stride 12 on a 28 x 28 image: offsets 0 and 12 per axis; the centre
    // pixel (14, 14) is under all four, the corner (0, 0) under one.
    MethodHarness harness = new MethodHarness(loaded.engine(), LoadedEngine.fashionMnist());
    float[] image = TestImages.sample(4);
    MethodHarness.Run run = harness.run(new Occlusion(),
        Map.of("fill", "black", "patch", "16", "stride", "12"), image, 1);
    double original = run.context().probabilities()[1];
    double[] drops = new double[4];
    int i = 0;
    for (int y : new int[] {0, 12}) {
      for (int x : new int[] {0, 12}) {
        float[] occluded = image.clone();
        for (int r = y; r < y + 16; r++) {
          for (int c = x; c < x + 16; c++) {
            occluded[r * 28 + c] = 0f;
          }
        }
        drops[i++] = original - dev.salient.server.engine.Softmax.of(harness.logits(occluded))[1];
      }
    }
    float[] map = run.map("occlusion").tensor().data();

    assertEquals(4.0, run.result().values().get("positions"));
    assertEquals(drops[0], map[0], 1e-5);
    assertEquals((drops[0] + drops[1] + drops[2] + drops[3]) / 4, map[14 * 28 + 14], 1e-5);
    assertEquals((drops[0] + drops[1]) / 2, map[0 * 28 + 14], 1e-5);
  }

  @Test
  void occludedImagesRunInPassesOfBatchWithOneFrameEach() {
    MethodHarness.Run run = loaded.harness().run(new Occlusion(),
        Map.of("patch", "4", "stride", "2", "batch", "20"), new float[3 * 16 * 16], 0);

    assertEquals(49.0, run.result().values().get("positions"), "7 x 7 positions");
    assertEquals(1 + 3, run.engineCalls(), "the first pass, then 20 + 20 + 9");
    assertEquals(3, run.frames().size());
    assertTrue(run.frames().get(2).values().get("positions_done") == 49.0);
  }

  @Test
  void theBlurFillTakesOnePassForTheBlurredImage() {
    float[] image = new float[3 * 16 * 16];
    for (int p = 0; p < image.length; p++) {
      image[p] = (p % 16) / 16f;
    }
    MethodHarness.Run run = loaded.harness().run(new Occlusion(),
        Map.of("fill", "blur", "patch", "8", "stride", "8"), image, 0);

    assertEquals(1 + 1 + 1, run.engineCalls(), "first pass, blur, four positions in one pass");
    assertEquals(1 + 1 + 4, run.passes());
  }
}
