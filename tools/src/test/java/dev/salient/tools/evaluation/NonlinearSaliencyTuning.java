package dev.salient.tools.evaluation;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.NonlinearSaliency;
import dev.salient.tools.train.FashionMnistIdx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * How the nonlinear saliency defaults were chosen: runs {@code mode=both} with the runner-up class
 * as target on Fashion-MNIST TRAINING images (never the committed test samples) for every
 * combination of a parameter grid, and prints the share of trajectories reaching 0.95 for each
 * variant. Not part of the suite; run it with
 *
 * <pre>
 * mvn -o -pl tools -am test -Dtest=NonlinearSaliencyTuning \
 *   -Dsurefire.failIfNoSpecifiedTests=false -Dsalient.tune=200 \
 *   -Dsalient.tune.grid="output=log_probability|logit;little_h=0.05|0.1"
 * </pre>
 *
 * ({@code salient.tune} is the number of training images, drawn with a fixed seed;
 * {@code salient.tune.model} a model package directory other than the default).
 */
@EnabledIfSystemProperty(named = "salient.tune", matches = "\\d+")
class NonlinearSaliencyTuning {
  static final Path DATA = Path.of("/usr/share/datasets/fashion-mnist");
  static final double REACHED = 0.95;

  @Test
  void printSharesOverTheGrid() throws Exception {
    int count = Integer.getInteger("salient.tune");
    List<Map<String, String>> grid = grid(System.getProperty("salient.tune.grid", ""));
    String modelDir = System.getProperty("salient.tune.model");
    ModelPackage model = modelDir == null
        ? ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE)
        : ModelPackage.read(Path.of(modelDir));
    FashionMnistIdx.Split train = FashionMnistIdx.readTrain(DATA);
    Random random = new Random(2024);
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int index = random.nextInt(train.count());
      images.add(Arrays.copyOfRange(train.pixels(), index * FashionMnistIdx.PIXELS,
          (index + 1) * FashionMnistIdx.PIXELS));
    }
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(model))) {
      for (Map<String, String> params : grid) {
        BatchedMethodRunner runner = new BatchedMethodRunner(engine, model);
        Map<String, String> withMode = new LinkedHashMap<>(params);
        withMode.put("mode", "both");
        long start = System.nanoTime();
        List<BatchedMethodRunner.Outcome> outcomes =
            runner.runRanked(new NonlinearSaliency(), withMode, images, 2);
        long millis = (System.nanoTime() - start) / 1_000_000;
        System.out.println(summary(params, outcomes, millis) + " (engine "
            + runner.engineMillis() + " ms)");
      }
    }
  }

  static String summary(Map<String, String> params, List<BatchedMethodRunner.Outcome> outcomes,
      long millis) {
    double[] start = new double[outcomes.size()];
    double[] bestStep = new double[outcomes.size()];
    double[] bestFraction = new double[outcomes.size()];
    int nonlinear = 0;
    int linear = 0;
    for (int i = 0; i < outcomes.size(); i++) {
      Map<String, Double> v = outcomes.get(i).result().values();
      nonlinear += v.get("best_probability") >= REACHED ? 1 : 0;
      linear += v.get("linear_best_probability") >= REACHED ? 1 : 0;
      start[i] = v.get("start_probability");
      bestStep[i] = v.get("best_step");
      bestFraction[i] = v.get("best_blurred_fraction");
    }
    int n = outcomes.size();
    // One trajectory alone: the request's first pass plus one pass per point.
    int passesPerTrajectory = 1 + outcomes.get(0).frames().size();
    return String.format(Locale.ROOT,
        "%s  n=%d  nonlinear=%.3f  linear=%.3f  median_start=%.4f  median_best_step=%.0f  "
            + "median_best_fraction=%.2f  passes=%d  %d ms",
        params, n, nonlinear / (double) n, linear / (double) n, median(start), median(bestStep),
        median(bestFraction), passesPerTrajectory, millis);
  }

  static double median(double[] values) {
    double[] s = values.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** "a=1|2;b=x" to [{a=1, b=x}, {a=2, b=x}]. */
  static List<Map<String, String>> grid(String spec) {
    List<Map<String, String>> combos = new ArrayList<>();
    combos.add(new LinkedHashMap<>());
    for (String axis : spec.split(";")) {
      if (axis.isBlank()) {
        continue;
      }
      String[] kv = axis.split("=", 2);
      List<Map<String, String>> next = new ArrayList<>();
      for (Map<String, String> combo : combos) {
        for (String value : kv[1].split("\\|")) {
          Map<String, String> m = new LinkedHashMap<>(combo);
          m.put(kv[0].trim(), value.trim());
          next.add(m);
        }
      }
      combos = next;
    }
    return combos;
  }
}
