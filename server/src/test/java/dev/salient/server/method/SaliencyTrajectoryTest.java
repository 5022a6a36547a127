package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The steps of one trajectory against hand-computed values, without a model. */
class SaliencyTrajectoryTest {
  static final InputSpec GREY_2X2 =
      new InputSpec(1, 2, 2, 0f, 1f, new float[] {0f}, new float[] {1f});
  static final InputSpec RGB_1X2 =
      new InputSpec(3, 1, 2, -1f, 1f, new float[] {0f, 0f, 0f}, new float[] {1f, 1f, 1f});

  @Test
  void sensitivityNormIsTheEuclideanNormOverChannels() {
    // Two pixels, three channels (channel-major): pixel 0 is (3, 0, 4), pixel 1 is (1, 2, 2).
    float[] gradient = {3, 1, 0, 2, 4, 2};

    assertArrayEquals(new float[] {5, 3}, SaliencyTrajectory.sensitivityNorm(gradient, 3), 1e-6f);
  }

  @Test
  void belowLevelTakesTheFractionOfPixelsWithLowestNormTiesByIndex() {
    float[] norm = {0.5f, 0.1f, 0.3f, 0.1f, 0.9f, 0.3f, 0.2f, 0.7f};

    boolean[] quarter = SaliencyTrajectory.belowLevel(norm, 0.25);
    boolean[] half = SaliencyTrajectory.belowLevel(norm, 0.5);

    assertArrayEquals(new boolean[] {false, true, false, true, false, false, false, false},
        quarter);
    // 0.1, 0.1, 0.2, then the first 0.3 (index 2) before the second (index 5).
    assertArrayEquals(new boolean[] {false, true, true, true, false, false, true, false}, half);
    assertEquals(0.3, SaliencyTrajectory.levelOf(norm, half), 1e-7);
    assertFalse(contains(SaliencyTrajectory.belowLevel(norm, 0), true));
  }

  @Test
  void updateBlursBelowLevelAndMovesTheOthersByAtMostLittleHOfTheRange() {
    float[] image = {0.2f, 0.4f, 0.6f, 0.8f};
    float[] blurred = {0.5f, 0.5f, 0.5f, 0.5f};
    float[] gradient = {0.01f, -2f, 1f, 4f};
    boolean[] below = {true, false, false, false};

    float[] next = SaliencyTrajectory.update(image, blurred, gradient, below, 0.1, GREY_2X2);

    // The largest |g| (4) moves by 0.1; the others in proportion; 0.8 + 0.1 stays below 1.
    assertArrayEquals(new float[] {0.5f, 0.35f, 0.625f, 0.9f}, next, 1e-6f);
  }

  @Test
  void updateClipsToThePixelRangeOfEveryChannel() {
    float[] image = {0.9f, -0.9f, 0.5f, 0.0f, -0.95f, 0.95f};
    float[] gradient = {1f, -1f, 1f, -1f, -1f, 1f};

    float[] next = SaliencyTrajectory.update(image, image, gradient, new boolean[2], 0.25,
        RGB_1X2);

    // littleH is a share of the range [-1, 1]: a step of 0.5.
    assertArrayEquals(new float[] {1f, -1f, 1f, -0.5f, -1f, 1f}, next, 1e-6f);
  }

  @Test
  void maskedPaintsBlurredPixelsInEveryChannel() {
    float[] image = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};

    float[] masked = SaliencyTrajectory.masked(image, new boolean[] {false, true}, 1f);

    assertArrayEquals(new float[] {0.1f, 1f, 0.3f, 1f, 0.5f, 1f}, masked);
  }

  @Test
  void levelsFollowTheScheduleAndSnapshotsCloseEachLevel() {
    SaliencyTrajectory t = new SaliencyTrajectory(GREY_2X2, new float[] {0.1f, 0.2f, 0.3f, 0.4f},
        0, false, 0.1, 2, List.of(0.0, 0.5));
    float[] logits = {0f, 0f};
    float[] gradient = {1f, 2f, 3f, 4f};
    float[] blurred = {0.25f, 0.25f, 0.25f, 0.25f};

    List<Double> fractions = new java.util.ArrayList<>();
    while (!t.finished()) {
      fractions.add(t.advance(logits, gradient, blurred).blurredFraction());
    }

    assertEquals(List.of(0.0, 0.0, 0.0, 0.5, 0.5), fractions);
    assertEquals(List.of(2, 4), t.snapshots().stream().map(SaliencyTrajectory.Point::step)
        .toList());
    // At 50 % the two pixels of lowest gradient norm were blurred.
    assertArrayEquals(new boolean[] {true, true, false, false},
        t.snapshots().get(1).blurred());
  }

  private static boolean contains(boolean[] values, boolean value) {
    for (boolean v : values) {
      if (v == value) {
        return true;
      }
    }
    return false;
  }
}
