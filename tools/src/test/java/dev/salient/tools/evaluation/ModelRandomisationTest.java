package dev.salient.tools.evaluation;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Ranking;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.MethodHarness;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The model-randomisation sanity check (Adebayo et al. 2018): a method's maps on the trained
 * default model and on the same architecture with random weights must differ; the mean Spearman
 * rank correlation over the committed samples stays below 0.5 for every map compared.
 */
@Tag("evaluation")
class ModelRandomisationTest {
  static InferenceEngine trainedEngine;
  static InferenceEngine randomEngine;
  static MethodHarness trained;
  static MethodHarness random;

  @BeforeAll
  static void load() {
    ModelPackage model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    trainedEngine = InferenceEngine.load("cpu", java.util.List.of(model));
    randomEngine = InferenceEngine.loadRandomlyInitialised("cpu", model, SanityCheck.SEED);
    trained = new MethodHarness(trainedEngine, model);
    random = new MethodHarness(randomEngine, model);
  }

  @AfterAll
  static void close() {
    trainedEngine.close();
    randomEngine.close();
  }

  static Stream<SanityCheck.Case> cases() {
    return SanityCheck.CASES.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void mapsOfTrainedAndRandomWeightsRankDifferently(SanityCheck.Case c, TestReporter reporter) {
    Map<String, double[]> stats = new LinkedHashMap<>();
    for (int i = 0; i < TestImages.count(); i++) {
      float[] image = TestImages.sample(i);
      // Both models explain the class the trained model predicts.
      int target = Ranking.indexOfRank(trained.logits(image), 1);
      MethodHarness.Run a = trained.run(c.method(), c.parameters(), image, target);
      MethodHarness.Run b = random.run(c.method(), c.parameters(), image, target);
      for (String map : c.maps()) {
        double rho = RankCorrelation.spearman(a.map(map).tensor().data(),
            b.map(map).tensor().data());
        // {sum, defined, undefined}: a constant map (all zero) has no ranks to correlate.
        double[] s = stats.computeIfAbsent(map, k -> new double[3]);
        if (Double.isNaN(rho)) {
          s[2]++;
        } else {
          s[0] += rho;
          s[1]++;
        }
      }
    }
    StringBuilder report = new StringBuilder(c.method().name());
    stats.forEach((map, s) -> report.append(String.format(Locale.ROOT, " %s=%.3f", map,
        s[0] / s[1])).append(s[2] > 0 ? " (" + (int) s[2] + " constant)" : ""));
    reporter.publishEntry("spearman", report.toString());
    for (double[] s : stats.values()) {
      assertTrue(s[1] >= TestImages.count() / 2, "most maps have ranks: " + report);
      assertTrue(s[0] / s[1] < 0.5, "mean Spearman rho, trained vs random weights: " + report);
    }
  }
}
