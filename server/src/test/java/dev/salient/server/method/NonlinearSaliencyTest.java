package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.Ranking;
import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.Frame;
import dev.salient.server.explanation.ExplainEvent.Snapshot;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The nonlinear saliency method on the default model: the properties the paper states. */
class NonlinearSaliencyTest {
  static final Map<String, String> SHORT = Map.of("steps_per_level", "3");

  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());
  static final InputSpec spec = loaded.model().input();

  static int runnerUp(float[] image) {
    return Ranking.indexOfRank(loaded.harness().logits(image), 2);
  }

  static MethodHarness.Run run(Map<String, String> params, float[] image, boolean tensors) {
    return loaded.harness().run(new NonlinearSaliency(), params, image, runnerUp(image),
        new MethodContext.FrameOptions(3, tensors));
  }

  @Test
  void withTheGradientFrozenTheNonlinearCodePathGivesExactlyTheLinearMap() {
    float[] image = TestImages.sample(3);
    int target = runnerUp(image);
    float[] gradientAtStart = loaded.engine().run(loaded.model().name(),
        Pass.gradient(List.of(image), Pass.Output.LOG_PROBABILITY, new int[] {target}, 10))
        .gradients().get(0);
    // An engine that answers every gradient with the input image's: a frozen gradient.
    PassEngine frozen = new PassEngine() {
      @Override
      public PassResult run(String name, Pass pass) {
        PassResult r = loaded.engine().run(name, pass);
        return r.gradients() == null ? r : new PassResult(r.logits(),
            Collections.nCopies(pass.size(), gradientAtStart), r.blurred());
      }

      @Override
      public void close() {}
    };

    MethodHarness.Run nonlinearFrozen = new MethodHarness(frozen, loaded.model()).run(
        new NonlinearSaliency(), SHORT, image, target, new MethodContext.FrameOptions(3, true));
    MethodHarness.Run linear = loaded.harness().run(new NonlinearSaliency(),
        Map.of("steps_per_level", "3", "mode", "linear"), image, target,
        new MethodContext.FrameOptions(3, true));

    assertEquals(linear.frames().size(), nonlinearFrozen.frames().size());
    for (int i = 0; i < linear.frames().size(); i++) {
      Frame a = nonlinearFrozen.frames().get(i);
      Frame b = linear.frames().get(i);
      assertArrayEquals(b.image().data(), a.image().data(), "image of step " + i);
      assertArrayEquals(b.map().data(), a.map().data(), "masked map of step " + i);
      assertEquals(b.targetProbability(), a.targetProbability(), 1e-6f, "step " + i);
    }
    // And the real nonlinear trajectory is a different one.
    MethodHarness.Run nonlinear = run(SHORT, image, true);
    assertTrue(distance(nonlinear.map("masked").tensor().data(),
        linear.map("masked").tensor().data()) > 0, "nonlinear differs from linear");
  }

  @Test
  void bestStepIsTheEarliestFrameWithinToleranceOfTheHighestProbability() {
    MethodHarness.Run run = run(SHORT, TestImages.sample(7), false);

    float highest = 0;
    for (Frame f : run.frames()) {
      highest = Math.max(highest, f.targetProbability());
    }
    Frame best = null;
    for (Frame f : run.frames()) {
      if (best == null && f.targetProbability() >= highest - SaliencyTrajectory.BEST_TOLERANCE) {
        best = f;
      }
    }
    Map<String, Double> values = run.result().values();
    assertEquals(best.targetProbability(), values.get("best_probability"), 0.0);
    assertEquals(best.step(), values.get("best_step"), 0.0);
    assertEquals(best.values().get("blurred_fraction"), values.get("best_blurred_fraction"));
    assertEquals(run.frames().get(0).targetProbability(), values.get("start_probability"), 0.0);
    assertEquals(run.context().probabilities()[run.context().target()],
        values.get("start_probability"), 1e-6);
  }

  @Test
  void framesArriveInStepOrderThroughTheSchedule() {
    MethodHarness.Run run = run(Map.of("steps_per_level", "2", "schedule", "0,10,50"),
        TestImages.sample(11), false);

    List<Frame> frames = run.frames();
    assertEquals(7, frames.size(), "input plus 3 levels of 2 steps");
    List<Double> fractions = new ArrayList<>();
    for (int i = 0; i < frames.size(); i++) {
      assertEquals(i, frames.get(i).step());
      assertEquals(2 + i, frames.get(i).passes(), "the job's first pass plus one per step");
      fractions.add(frames.get(i).values().get("blurred_fraction"));
    }
    assertEquals(List.of(0.0, 0.0, 0.0, 0.1, 0.1, 0.5, 0.5), fractions);
    assertEquals(List.of("nonlinear 0%", "nonlinear 10%", "nonlinear 50%"),
        run.result().snapshots().stream().map(Snapshot::label).toList());
    assertTrue(run.events().get(run.events().size() - 1) instanceof ExplainEvent.Result);
  }

  @Test
  void blurBelowLevelLeavesAConstantImageConstant() {
    float[] grey = new float[spec.size()];
    java.util.Arrays.fill(grey, 0.37f);
    // One step at 95 % blurred with a negligible enhancement: nearly every pixel is low-passed.
    MethodHarness.Run run = run(Map.of("steps_per_level", "1", "schedule", "95",
        "little_h", "0.0001"), grey, true);

    Snapshot level95 = run.result().snapshots().get(0);
    float[] after = level95.maps().get(1).tensor().data();
    float[] salient = level95.maps().get(2).tensor().data();
    int blurred = 0;
    for (int i = 0; i < after.length; i++) {
      if (salient[i] == 0f) {
        assertEquals(0.37f, after[i], 1e-6f, "blurred pixel " + i);
        blurred++;
      }
    }
    assertEquals(Math.round(0.95 * after.length), blurred);
  }

  @Test
  void blurBelowLevelRemovesHighFrequencyEnergy() {
    Random random = new Random(17);
    float[] noise = new float[spec.size()];
    for (int i = 0; i < noise.length; i++) {
      noise[i] = random.nextFloat();
    }
    MethodHarness.Run run = run(Map.of("steps_per_level", "1", "schedule", "95",
        "little_h", "0.0001"), noise, true);

    float[] after = run.frames().get(1).image().data();
    double highBefore = highFrequencyEnergy(noise, spec.height(), spec.width());
    double highAfter = highFrequencyEnergy(after, spec.height(), spec.width());
    double lowBefore = lowFrequencyEnergy(noise, spec.height(), spec.width());
    double lowAfter = lowFrequencyEnergy(after, spec.height(), spec.width());
    assertTrue(highAfter < 0.1 * highBefore,
        "high-frequency energy " + highBefore + " -> " + highAfter);
    assertTrue(lowAfter > 0.5 * lowBefore, "low-frequency energy " + lowBefore + " -> "
        + lowAfter);
  }

  @Test
  void everyPixelStaysInsideTheValidRangeEvenWithTheLargestStep() {
    for (int sample : new int[] {0, 25, 50}) {
      MethodHarness.Run run = run(Map.of("steps_per_level", "2", "little_h", "1"),
          TestImages.sample(sample), true);
      int atBounds = 0;
      for (Frame f : run.frames()) {
        for (float v : f.image().data()) {
          assertTrue(v >= spec.pixelMin() && v <= spec.pixelMax(), "pixel " + v);
          atBounds += v == spec.pixelMin() || v == spec.pixelMax() ? 1 : 0;
        }
      }
      for (Snapshot s : run.result().snapshots()) {
        for (float v : s.maps().get(1).tensor().data()) {
          assertTrue(v >= spec.pixelMin() && v <= spec.pixelMax(), "snapshot pixel " + v);
        }
      }
      assertTrue(atBounds > 0, "steps of the whole range reach the bounds");
    }
  }

  @Test
  void maskedMapPaintsExactlyTheBlurredPixelsInTheMaskColour() {
    MethodHarness.Run run = run(Map.of("steps_per_level", "2", "mask_colour", "0.25"),
        TestImages.sample(40), false);

    for (Snapshot s : run.result().snapshots()) {
      float[] masked = s.maps().get(0).tensor().data();
      float[] image = s.maps().get(1).tensor().data();
      float[] salient = s.maps().get(2).tensor().data();
      int blurred = 0;
      for (int p = 0; p < salient.length; p++) {
        assertEquals(salient[p] == 0f ? 0.25f : image[p], masked[p], 0f, "pixel " + p);
        blurred += salient[p] == 0f ? 1 : 0;
      }
      assertEquals(Math.round(s.values().get("blurred_fraction") * salient.length), blurred,
          s.label());
    }
  }

  @Test
  void modeBothRunsTheTwoTrajectoriesInTheSamePasses() {
    float[] image = TestImages.sample(60);
    MethodHarness.Run both = run(Map.of("steps_per_level", "2", "mode", "both"), image, false);
    MethodHarness.Run linear = run(Map.of("steps_per_level", "2", "mode", "linear"), image,
        false);

    assertEquals(both.frames().size(), linear.frames().size());
    assertEquals(linear.result().values().get("best_probability"),
        both.result().values().get("linear_best_probability"), 1e-6);
    assertEquals(2 * 8, both.result().snapshots().size());
    assertEquals(linear.engineCalls(), both.engineCalls());
  }

  @Test
  void badParametersAreRejectedWithTheirName() {
    NonlinearSaliency method = new NonlinearSaliency();

    for (Map<String, String> bad : List.of(Map.of("schedule", "0,50,20"),
        Map.of("schedule", "0,100"), Map.of("schedule", "a"), Map.of("mask_colour", "pink"),
        Map.of("little_h", "0"), Map.of("blur_sigma", "100"), Map.of("mode", "sideways"),
        Map.of("steps_per_level", "500", "schedule", "0,5,10,20,30,50,75,95,96,97,98"))) {
      SalientException.InvalidArgument e =
          assertThrows(SalientException.InvalidArgument.class, () -> method.prepare(bad));
      String name = bad.containsKey("steps_per_level") ? "steps" : bad.keySet().iterator().next();
      assertTrue(e.getMessage().contains(name), e.getMessage());
    }
  }

  @Test
  void defaultsAreReportedInFull() {
    assertEquals(Map.of("mode", "nonlinear", "output", "log_probability", "little_h", "0.03",
        "blur_sigma", "1", "steps_per_level", "6", "schedule", "0,5,10,20,30,50,75,95",
        "mask_colour", "white"), new NonlinearSaliency().prepare(Map.of()).parameters());
  }

  static double distance(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += Math.abs(a[i] - b[i]);
    }
    return s;
  }

  /** DFT power at frequencies above half the Nyquist frequency along either axis. */
  static double highFrequencyEnergy(float[] image, int h, int w) {
    return bandEnergy(image, h, w, true);
  }

  /** DFT power at non-zero frequencies below an eighth of the sampling rate on both axes. */
  static double lowFrequencyEnergy(float[] image, int h, int w) {
    return bandEnergy(image, h, w, false);
  }

  private static double bandEnergy(float[] image, int h, int w, boolean high) {
    double energy = 0;
    for (int u = 0; u < h; u++) {
      for (int v = 0; v < w; v++) {
        int fu = Math.min(u, h - u);
        int fv = Math.min(v, w - v);
        boolean isHigh = fu >= h / 4 || fv >= w / 4;
        boolean isLow = fu <= h / 8 && fv <= w / 8 && (fu + fv) > 0;
        if (high ? !isHigh : !isLow) {
          continue;
        }
        double re = 0;
        double im = 0;
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            double angle = -2 * Math.PI * ((double) u * y / h + (double) v * x / w);
            re += image[y * w + x] * Math.cos(angle);
            im += image[y * w + x] * Math.sin(angle);
          }
        }
        energy += re * re + im * im;
      }
    }
    return energy;
  }
}
