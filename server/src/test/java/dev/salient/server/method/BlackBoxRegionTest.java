package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The claim: on an image whose class depends on one region only, LIME puts its largest
 * weight there (and reports its fit's R²), and occlusion finds the same region.
 */
class BlackBoxRegionTest {
  static final int SIDE = 24;
  static final int TOP = 5;
  static final int LEFT = 13;
  static final int REGION = 8;

  /** A faintly textured dark image with a bright square; p(class 0) depends on the square only. */
  static float[] image() {
    float[] x = new float[SIDE * SIDE];
    for (int y = 0; y < SIDE; y++) {
      for (int c = 0; c < SIDE; c++) {
        x[y * SIDE + c] = inRegion(y * SIDE + c) ? 0.85f : 0.15f + 0.0125f * ((c * 7 + y * 3) % 5);
      }
    }
    return x;
  }

  static boolean inRegion(int pixel) {
    int y = pixel / SIDE;
    int x = pixel % SIDE;
    return y >= TOP && y < TOP + REGION && x >= LEFT && x < LEFT + REGION;
  }

  /** p = 0.1 + 0.6 * (the square's mean brightness / 0.85): 0.7 on the image, 0.1 without it. */
  static LinearProbabilityEngine engine() {
    double[] w = new double[SIDE * SIDE];
    for (int p = 0; p < w.length; p++) {
      w[p] = inRegion(p) ? 0.6 / (REGION * REGION * 0.85) : 0;
    }
    return new LinearProbabilityEngine(w, 0.1, SIDE, SIDE);
  }

  static MethodHarness harness() {
    LinearProbabilityEngine engine = engine();
    return new MethodHarness(engine, engine.model);
  }

  static int argMax(float[] map) {
    int best = 0;
    for (int p = 1; p < map.length; p++) {
      if (map[p] > map[best]) {
        best = p;
      }
    }
    return best;
  }

  @Test
  void limePutsItsLargestWeightOnTheRegionTheClassDependsOn() {
    MethodHarness.Run run = harness().run(new Lime(),
        Map.of("fill", "black", "superpixel_size", "6", "samples", "400"), image(), 0);

    float[] labels = run.map("superpixels").tensor().data();
    int strongest = run.result().values().get("strongest_superpixel").intValue();
    int inside = 0;
    int size = 0;
    for (int p = 0; p < labels.length; p++) {
      if (labels[p] == strongest) {
        size++;
        inside += inRegion(p) ? 1 : 0;
      }
    }
    assertTrue(inside > size / 2, inside + " of the strongest superpixel's " + size
        + " pixels are in the square");
    assertTrue(inRegion(argMax(run.map("lime").tensor().data())));
    float[] map = run.map("lime").tensor().data();
    for (int p = 0; p < map.length; p++) {
      if (!touchesRegion(labels, (int) labels[p])) {
        assertEquals(0f, map[p], 0.01f, "a superpixel off the square has no evidence");
      }
    }
    double r2 = run.result().values().get("r2");
    assertTrue(r2 > 0.99 && r2 <= 1, "p is linear in the superpixels here: R² = " + r2);
  }

  private static boolean touchesRegion(float[] labels, int label) {
    for (int p = 0; p < labels.length; p++) {
      if (labels[p] == label && inRegion(p)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void occlusionFindsTheSameRegion() {
    MethodHarness.Run run = harness().run(new Occlusion(),
        Map.of("fill", "black", "patch", "4", "stride", "2"), image(), 0);

    float[] map = run.map("occlusion").tensor().data();
    assertTrue(inRegion(argMax(map)));
    double insideMean = 0;
    double outsideMax = 0;
    for (int p = 0; p < map.length; p++) {
      if (inRegion(p)) {
        insideMean += map[p] / (REGION * REGION);
      } else if (!nearRegion(p, 4)) {
        outsideMax = Math.max(outsideMax, Math.abs(map[p]));
      }
    }
    assertTrue(insideMean > 0.01, "hiding the square lowers p: " + insideMean);
    assertEquals(0, outsideMax, 1e-6, "patches that miss the square change nothing");
  }

  /** Within {@code margin} pixels of the square (a patch there can overlap it). */
  private static boolean nearRegion(int pixel, int margin) {
    int y = pixel / SIDE;
    int x = pixel % SIDE;
    return y > TOP - margin && y < TOP + REGION + margin - 1 && x > LEFT - margin
        && x < LEFT + REGION + margin - 1;
  }
}
