package dev.salient.tools.evaluation;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Ranking;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.IntegratedGradients;
import dev.salient.server.method.MethodHarness;
import dev.salient.tools.train.FashionMnistIdx;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Evaluations behind the gradient methods' defaults, on Fashion-MNIST training images (never the
 * committed test samples, which the tests use), and the numbers the README reports. Run from the
 * tools module after {@code mvn -o -q -pl tools -am test-compile dependency:build-classpath
 * -Dmdep.outputFile=cp.txt -Dmdep.includeScope=test} in the repository root:
 *
 * <pre>
 * java -Dai.djl.offline=true -cp "target/test-classes:target/classes:$(cat cp.txt)" \
 *     dev.salient.tools.evaluation.GradientMethodsEvaluation ig-rules 100 64 [samples]
 * java ... GradientMethodsEvaluation sanity 100 [samples]
 * </pre>
 *
 * <p>Without {@code samples} the images are N training images spread evenly over the training
 * set; with it, the first N committed test samples.
 */
public final class GradientMethodsEvaluation {
  private static final Path DATA = Path.of("/usr/share/datasets/fashion-mnist");

  private GradientMethodsEvaluation() {}

  /** Runs the evaluation named by {@code args[0]}. */
  public static void main(String[] args) throws IOException {
    String mode = args.length > 0 ? args[0] : "ig-rules";
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 100;
    ModelPackage model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    List<String> options = Arrays.asList(args).subList(Math.min(2, args.length), args.length);
    List<float[]> images = options.contains("samples") ? samples(n) : trainingImages(n);
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(model))) {
      MethodHarness harness = new MethodHarness(engine, model);
      switch (mode) {
        case "ig-rules" -> igRules(harness, images, options.isEmpty() || options.get(0)
            .equals("samples") ? 64 : Integer.parseInt(options.get(0)));
        case "sanity" -> {
          try (InferenceEngine random =
              InferenceEngine.loadRandomlyInitialised("cpu", model, SanityCheck.SEED)) {
            sanity(harness, new MethodHarness(random, model), images);
          }
        }
        default -> throw new IllegalArgumentException("modes: ig-rules, sanity");
      }
    }
  }

  private static void igRules(MethodHarness harness, List<float[]> images, int steps) {
    for (IntegratedGradients.Rule rule : IntegratedGradients.Rule.values()) {
      for (String baseline : new String[] {"black", "blurred"}) {
        double[] errors = new double[images.size()];
        for (int i = 0; i < images.size(); i++) {
          float[] image = images.get(i);
          MethodHarness.Run run = harness.run(new IntegratedGradients(),
              Map.of("steps", Integer.toString(steps), "baseline", baseline,
                  "rule", rule.name().toLowerCase(Locale.ROOT), "batch", "64"),
              image, Ranking.indexOfRank(harness.logits(image), 1));
          errors[i] = run.result().values().get("completeness_error");
        }
        print("ig steps=" + steps + " rule=" + rule + " baseline=" + baseline, errors);
      }
    }
  }

  private static void sanity(MethodHarness trained, MethodHarness random, List<float[]> images) {
    Map<String, List<Double>> rhos = new LinkedHashMap<>();
    for (float[] image : images) {
      int target = Ranking.indexOfRank(trained.logits(image), 1);
      for (SanityCheck.Case c : SanityCheck.CASES) {
        MethodHarness.Run a = trained.run(c.method(), c.parameters(), image, target);
        MethodHarness.Run b = random.run(c.method(), c.parameters(), image, target);
        for (String map : c.maps()) {
          float[] x = a.map(map).tensor().data();
          float[] y = b.map(map).tensor().data();
          rhos.computeIfAbsent(c.method().name() + "/" + map, k -> new ArrayList<>())
              .add(RankCorrelation.spearman(x, y));
          // Adebayo et al. also rank absolute values: the sign ignored.
          rhos.computeIfAbsent(c.method().name() + "/|" + map + "|", k -> new ArrayList<>())
              .add(RankCorrelation.spearman(abs(x), abs(y)));
        }
      }
    }
    rhos.forEach((k, v) -> print("spearman " + k,
        v.stream().mapToDouble(Double::doubleValue).toArray()));
  }

  private static float[] abs(float[] v) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Math.abs(v[i]);
    }
    return out;
  }

  /** Mean, median and max of the defined values, how many are within 1 %, how many undefined. */
  private static void print(String label, double[] values) {
    double[] sorted = Arrays.stream(values).filter(Double::isFinite).sorted().toArray();
    long withinOnePercent = Arrays.stream(sorted).filter(v -> v <= 0.01).count();
    System.out.printf(Locale.ROOT,
        "%-50s mean %.5f median %.5f max %.5f  <=0.01: %d/%d  undefined: %d%n", label,
        Arrays.stream(sorted).average().orElse(Double.NaN), sorted[sorted.length / 2],
        sorted[sorted.length - 1], withinOnePercent, sorted.length,
        values.length - sorted.length);
  }

  private static List<float[]> trainingImages(int n) throws IOException {
    FashionMnistIdx.Split train = FashionMnistIdx.readTrain(DATA);
    List<float[]> images = new ArrayList<>();
    // Every 600th image: spread over the whole training set, all classes.
    for (int i = 0; i < n; i++) {
      int index = (int) ((long) i * train.count() / n);
      images.add(Arrays.copyOfRange(train.pixels(), index * FashionMnistIdx.PIXELS,
          (index + 1) * FashionMnistIdx.PIXELS));
    }
    return images;
  }

  private static List<float[]> samples(int n) {
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < Math.min(n, TestImages.count()); i++) {
      images.add(TestImages.sample(i));
    }
    return images;
  }
}
