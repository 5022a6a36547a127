package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The largest call an engine runs: measured at load, larger passes split into slices of it. */
class BestBatchTest {
  static InferenceEngine engine;
  static ModelPackage fashion;

  @BeforeAll
  static void load() {
    fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    engine = InferenceEngine.load("cpu", List.of(fashion));
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void theBestBatchIsTheLargestWithinTheToleranceOfTheLowestTimePerImage() {
    // Per-image times like MobileNetV2's at 224 pixels without one malloc arena: falling to
    // batch 8, then rising steeply.
    Map<Integer, Double> rising = Map.of(1, 70.0, 2, 60.0, 4, 40.0, 8, 43.0, 16, 170.0);
    assertEquals(8, InferenceEngine.bestBatchOf(rising));
    Map<Integer, Double> falling = Map.of(1, 70.0, 2, 60.0, 4, 50.0, 8, 40.0);
    assertEquals(8, InferenceEngine.bestBatchOf(falling));
    Map<Integer, Double> risingEarly = Map.of(1, 10.0, 2, 12.0, 4, 20.0);
    assertEquals(1, InferenceEngine.bestBatchOf(risingEarly));
  }

  @Test
  void anUnmeasuredEngineRunsAnyBatchInOneCall() {
    try (InferenceEngine fresh = InferenceEngine.load("cpu", List.of(fashion))) {
      assertEquals(Integer.MAX_VALUE, fresh.bestBatch(fashion.name()));
    }
  }

  @Test
  void theMeasuredBestBatchIsAPowerOfTwoOrMaxBatchAndAtMostMaxBatch() {
    try (InferenceEngine measured = InferenceEngine.load("cpu", List.of(fashion))) {
      measured.measureBestBatch(6);
      int best = measured.bestBatch(fashion.name());
      assertTrue(List.of(1, 2, 4, 6).contains(best), "best batch " + best);
    }
  }

  @Test
  void aPassLargerThanTheBestBatchGivesTheNumbersOfOneCallPerImage() {
    try (InferenceEngine measured = InferenceEngine.load("cpu", List.of(fashion))) {
      measured.measureBestBatch(3);
      assertTrue(measured.bestBatch(fashion.name()) <= 3);
      Random random = new Random(5);
      List<float[]> images = new ArrayList<>();
      int[] targets = new int[7];
      for (int i = 0; i < 7; i++) {
        float[] image = new float[fashion.input().size()];
        for (int j = 0; j < image.length; j++) {
          image[j] = random.nextFloat();
        }
        images.add(image);
        targets[i] = i % fashion.numClasses();
      }
      PassResult sliced = measured.run(fashion.name(),
          Pass.gradient(images, Pass.Output.PROBABILITY, targets, fashion.numClasses()));

      assertEquals(7, sliced.logits().size());
      for (int i = 0; i < 7; i++) {
        PassResult alone = engine.run(fashion.name(), Pass.gradient(List.of(images.get(i)),
            Pass.Output.PROBABILITY, new int[] {targets[i]}, fashion.numClasses()));
        assertArrayEquals(alone.logits().get(0), sliced.logits().get(i), 1e-5f, "row " + i);
        assertArrayEquals(alone.gradients().get(0), sliced.gradients().get(i), 1e-6f,
            "row " + i);
      }
    }
  }
}
