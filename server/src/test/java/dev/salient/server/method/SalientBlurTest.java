package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.Pass;
import dev.salient.server.engine.Ranking;
import dev.salient.server.engine.Softmax;
import dev.salient.server.engine.TestImages;
import dev.salient.server.explanation.ExplainEvent;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Fig. 4 check: only the salient pixels of the last level are blurred, then classified. */
class SalientBlurTest {
  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(LoadedEngine.fashionMnist());

  @Test
  void blursExactlyTheSalientPixelsOfTheLastLevelAndReportsTheirProbability() {
    float[] image = TestImages.sample(9);
    int target = Ranking.indexOfRank(loaded.harness().logits(image), 1);
    MethodHarness.Run run =
        loaded.harness().run(new SalientBlur(), Map.of("steps_per_level", "2"), image, target);

    List<ExplainEvent.Snapshot> snapshots = run.result().snapshots();
    float[] salient = snapshots.get(snapshots.size() - 1).maps().get(2).tensor().data();
    float[] checked = run.map("salient_blurred").tensor().data();
    float[] blurred = loaded.engine().run(loaded.model().name(), Pass.forward(List.of(image))
        .with(new Pass.Extras(1f))).blurred().get(0);
    int count = 0;
    for (int p = 0; p < image.length; p++) {
      assertEquals(salient[p] == 1f ? blurred[p] : image[p], checked[p], 0f, "pixel " + p);
      count += salient[p] == 1f ? 1 : 0;
    }
    Map<String, Double> values = run.result().values();
    assertEquals(Math.round(0.05 * image.length), count);
    assertEquals(count / (double) image.length, values.get("salient_fraction"), 1e-12);
    assertEquals(Softmax.of(loaded.harness().logits(checked))[target],
        values.get("probability_after_blur"), 1e-6);
    assertEquals(values.get("start_probability"), values.get("probability_before_blur"), 1e-6);
    assertEquals(values.get("probability_after_blur") - values.get("probability_before_blur"),
        values.get("probability_change"), 1e-6);
  }
}
