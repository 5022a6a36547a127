package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.method.GradCam;
import dev.salient.server.method.MethodHarness;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A traced, frozen model (no children, weights as graph constants) cut in two by
 * tools/scripts/split_torchscript.py runs as the whole model does, and Grad-CAM runs on its parts.
 */
class TracedTwoPartFixtureTest {
  static final Path FIXTURE = Path.of("src/test/resources/models/traced-64");

  static InferenceEngine engine;
  static ModelPackage twoPart;
  static ModelPackage whole;

  @BeforeAll
  static void load() {
    twoPart = ModelPackage.read(FIXTURE);
    // The same package read as its single traced file: model.pt, no feature layer.
    whole = new ModelPackage(twoPart.name() + "-whole", twoPart.description(), twoPart.format(),
        twoPart.architecture(), "model.pt", twoPart.labels(), twoPart.input(), null,
        twoPart.metrics(), twoPart.location());
    engine = InferenceEngine.load("cpu", List.of(twoPart, whole));
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void wholeTracedModelRunsAsPyTorchDoes() {
    // make_fixture.py prints model((linspace(0, 1) - mean) / std).
    float[] logits = logits(whole, linspace(twoPart.input().size()));

    assertArrayEquals(
        new float[] {-0.056227f, -0.120598f, 0.071522f, 0.267259f, -0.068499f}, logits, 2e-5f);
  }

  @Test
  void partsGiveTheWholeModelsLogits() {
    Random random = new Random(64);
    for (int i = 0; i < 4; i++) {
      float[] image = InferenceEngineTest.randomImage(twoPart.input(), random);

      assertArrayEquals(logits(whole, image), logits(twoPart, image), 1e-5f, "image " + i);
    }
  }

  @Test
  void gradCamRunsOnTheParts() {
    float[] image = InferenceEngineTest.randomImage(twoPart.input(), new Random(65));
    int predicted = Ranking.indexOfRank(logits(twoPart, image), 1);

    MethodHarness.Run run = new MethodHarness(engine, twoPart)
        .run(new GradCam(), Map.of(), image, predicted);

    ExplainEvent.SaliencyMap map = run.map(GradCam.NAME);
    assertEquals(64 * 64, map.tensor().data().length);
    float largest = 0;
    for (float v : map.tensor().data()) {
      largest = Math.max(largest, Math.abs(v));
    }
    assertTrue(largest > 0, "the predicted class has a non-zero map");
  }

  private static float[] logits(ModelPackage model, float[] image) {
    return engine.run(model.name(), Pass.forward(List.of(image))).logits().get(0);
  }

  private static float[] linspace(int n) {
    float[] x = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i / (float) (n - 1);
    }
    return x;
  }
}
