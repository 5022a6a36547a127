package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.TestImages;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Active and inactive maps (seed 001, eq. 5-6) against per-class gradients of the engine. */
class ActiveInactiveSaliencyTest {
  static final ModelPackage fashion = LoadedEngine.fashionMnist();
  static final ModelPackage colour = LoadedEngine.tinyColour();

  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(fashion, colour);

  @Test
  void mapsFollowEquationsFiveAndSixAgainstEveryOtherClass() {
    float[] image = TestImages.sample(44);
    int target = 4;
    float[] gc = gradient(fashion, image, target);
    List<float[]> others = new ArrayList<>();
    for (int q = 0; q < 10; q++) {
      if (q != target) {
        others.add(gradient(fashion, image, q));
      }
    }

    MethodHarness.Run run = new MethodHarness(loaded.engine(), fashion)
        .run(new ActiveInactiveSaliency(), Map.of(), image, target);

    float[] active = run.map("active").tensor().data();
    float[] inactive = run.map("inactive").tensor().data();
    int activeCount = 0;
    int inactiveCount = 0;
    for (int p = 0; p < gc.length; p++) {
      boolean above = true;
      boolean below = true;
      for (float[] gq : others) {
        above &= gc[p] > gq[p];
        below &= gc[p] < gq[p];
      }
      assertEquals(above ? Math.abs(gc[p]) : 0f, active[p], 1e-6f, "active at " + p);
      assertEquals(below ? Math.abs(gc[p]) : 0f, inactive[p], 1e-6f, "inactive at " + p);
      activeCount += above ? 1 : 0;
      inactiveCount += below ? 1 : 0;
    }
    assertTrue(activeCount > 0 && inactiveCount > 0,
        "both sets occur: " + activeCount + " active, " + inactiveCount + " inactive");
    assertEquals(9.0, run.result().values().get("competitors"));
  }

  @Test
  void activeAndInactiveAreDisjoint() {
    // One channel: a pixel is never in both maps.
    for (int sample : new int[] {3, 27, 58, 91}) {
      float[] image = TestImages.sample(sample);
      MethodHarness.Run run = new MethodHarness(loaded.engine(), fashion)
          .run(new ActiveInactiveSaliency(), Map.of("k", "3"), image, 0);
      float[] active = run.map("active").tensor().data();
      float[] inactive = run.map("inactive").tensor().data();
      for (int p = 0; p < active.length; p++) {
        assertFalse(active[p] > 0 && inactive[p] > 0, "sample " + sample + " pixel " + p);
      }
    }
    // Three channels: the element-wise sets of eq. 5 and 6 never overlap.
    float[] image = new float[colour.input().size()];
    Random random = new Random(9);
    for (int i = 0; i < image.length; i++) {
      image[i] = random.nextFloat();
    }
    ActiveInactiveSaliency.Masks masks = ActiveInactiveSaliency.Masks.of(
        gradient(colour, image, 0), List.of(gradient(colour, image, 1),
            gradient(colour, image, 2), gradient(colour, image, 3)));
    int active = 0;
    int inactive = 0;
    for (int i = 0; i < image.length; i++) {
      assertFalse(masks.active()[i] && masks.inactive()[i], "element " + i);
      active += masks.active()[i] ? 1 : 0;
      inactive += masks.inactive()[i] ? 1 : 0;
    }
    assertTrue(active > 0 && inactive > 0, active + " active, " + inactive + " inactive");
  }

  @Test
  void kPicksTheBestScoringOtherClassesInOneBatchedPass() {
    float[] image = TestImages.sample(15);
    MethodHarness harness = new MethodHarness(loaded.engine(), fashion);
    float[] logits = harness.logits(image);
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      order.add(i);
    }
    order.sort((a, b) -> Float.compare(logits[b], logits[a]));
    int target = order.get(0);

    MethodHarness.Run run = harness.run(new ActiveInactiveSaliency(), Map.of("k", "2"), image,
        target);

    assertArrayEquals(new double[] {order.get(1), order.get(2)}, new double[] {
        run.result().values().get("competitor_1"), run.result().values().get("competitor_2")});
    assertEquals(2, run.engineCalls(), "the first pass, then one pass for both competitors");
    assertEquals(3, run.passes());
  }

  @Test
  void kBeyondTheOtherClassesIsInvalid() {
    float[] image = TestImages.sample(0);
    SalientException.InvalidArgument e = assertThrows(SalientException.InvalidArgument.class,
        () -> new MethodHarness(loaded.engine(), fashion)
            .run(new ActiveInactiveSaliency(), Map.of("k", "10"), image, 0));
    assertTrue(e.getMessage().contains("k <= 9"), e.getMessage());
  }

  private static float[] gradient(ModelPackage model, float[] image, int target) {
    return loaded.engine().run(model.name(), Pass.gradient(List.of(image), Pass.Output.LOGIT,
        new int[] {target}, model.numClasses())).gradients().get(0);
  }
}
