package dev.salient.tools.evaluation;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Ranking;
import dev.salient.server.method.BasicIterativeMethod;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.FastGradientSign;
import dev.salient.server.method.GeoSal;
import dev.salient.server.method.MethodHarness;
import dev.salient.tools.train.FashionMnistIdx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GeoSal against the smallest flipping FGSM and BIM on the same images, each targeted at the
 * image's second-ranked class: the evaluation. {@link #main} runs it on Fashion-MNIST
 * training images (where the defaults were tuned); the test runs it on the held-out samples.
 */
public final class AdversarialComparison {

  /**
   * One method's outcome on one image.
   *
   * @param inRange whether every pixel of the returned example lies in the model's pixel range
   */
  public record Outcome(boolean flipped, double l2, int iterations, long nanos,
      boolean inRange) {}

  /** The outcomes of every method on every image, in image order. */
  public record Report(List<Outcome> geosal, List<Outcome> fgsm, List<Outcome> bim) {

    /** Share of GeoSal results that flip to the target. */
    public double geosalFlipShare() {
      return geosal.stream().filter(Outcome::flipped).count() / (double) geosal.size();
    }

    /** Median of L2(GeoSal) / L2(other) over the images where both flipped. */
    public double medianRatio(List<Outcome> other) {
      List<Double> ratios = new ArrayList<>();
      for (int i = 0; i < geosal.size(); i++) {
        if (geosal.get(i).flipped() && other.get(i).flipped()) {
          ratios.add(geosal.get(i).l2() / other.get(i).l2());
        }
      }
      return median(ratios);
    }

    /** Number of images where both GeoSal and {@code other} flipped. */
    public int bothFlipped(List<Outcome> other) {
      int n = 0;
      for (int i = 0; i < geosal.size(); i++) {
        n += geosal.get(i).flipped() && other.get(i).flipped() ? 1 : 0;
      }
      return n;
    }

    /** Median iterations of the flipped results of {@code outcomes}. */
    public static double medianIterations(List<Outcome> outcomes) {
      return median(outcomes.stream().filter(Outcome::flipped)
          .map(o -> (double) o.iterations()).toList());
    }

    /** Median wall time per image of {@code outcomes}, in milliseconds. */
    public static double medianMillis(List<Outcome> outcomes) {
      return median(outcomes.stream().map(o -> o.nanos() / 1e6).toList());
    }

    /** A one-paragraph summary. */
    public String summary() {
      return String.format(Locale.ROOT,
          "images %d; geosal flipped %.3f (fgsm %.3f, bim %.3f); median L2 ratio geosal/fgsm %.3f"
              + " (n=%d), geosal/bim %.3f (n=%d); median L2 geosal %.3f fgsm %.3f bim %.3f;"
              + " median iterations geosal %.1f bim %.1f; median ms per image geosal %.1f"
              + " fgsm %.1f bim %.1f",
          geosal.size(), geosalFlipShare(), share(fgsm), share(bim), medianRatio(fgsm),
          bothFlipped(fgsm), medianRatio(bim), bothFlipped(bim), medianL2(geosal),
          medianL2(fgsm), medianL2(bim), medianIterations(geosal), medianIterations(bim),
          medianMillis(geosal), medianMillis(fgsm), medianMillis(bim));
    }

    private static double share(List<Outcome> outcomes) {
      return outcomes.stream().filter(Outcome::flipped).count() / (double) outcomes.size();
    }

    private static double medianL2(List<Outcome> outcomes) {
      return median(outcomes.stream().filter(Outcome::flipped).map(Outcome::l2).toList());
    }
  }

  private AdversarialComparison() {}

  /** Runs the three methods, with their default parameters, on every image. */
  public static Report run(MethodHarness harness, List<float[]> images, boolean withBim) {
    List<Outcome> geosal = new ArrayList<>();
    List<Outcome> fgsm = new ArrayList<>();
    List<Outcome> bim = new ArrayList<>();
    for (float[] image : images) {
      int target = Ranking.indexOfRank(harness.logits(image), 2);
      geosal.add(outcome(harness, new GeoSal(), image, target));
      fgsm.add(outcome(harness, new FastGradientSign(), image, target));
      if (withBim) {
        bim.add(outcome(harness, new BasicIterativeMethod(), image, target));
      }
    }
    return new Report(geosal, fgsm, bim);
  }

  private static Outcome outcome(MethodHarness harness, ExplanationMethod method, float[] image,
      int target) {
    long start = System.nanoTime();
    MethodHarness.Run run = harness.run(method, Map.of(), image, target);
    long nanos = System.nanoTime() - start;
    Map<String, Double> values = run.result().values();
    boolean inRange = true;
    for (float v : run.map("adversarial").tensor().data()) {
      inRange &= v >= run.context().model().input().pixelMin()
          && v <= run.context().model().input().pixelMax();
    }
    return new Outcome(values.get("flipped") == 1.0, values.get("l2"),
        values.get("iterations").intValue(), nanos, inRange);
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(v);
    return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  }

  /**
   * Tuning run on training images: {@code [count [first [modelDir]]]}, defaults 500 images from
   * index 0 with the embedded model.
   */
  public static void main(String[] args) throws Exception {
    int count = args.length > 0 ? Integer.parseInt(args[0]) : 500;
    int first = args.length > 1 ? Integer.parseInt(args[1]) : 0;
    ModelPackage model = args.length > 2 ? ModelPackage.read(Path.of(args[2]))
        : ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    float[] pixels = FashionMnistIdx.readImages(
        Path.of("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"));
    List<float[]> images = new ArrayList<>();
    for (int i = first; i < first + count; i++) {
      images.add(Arrays.copyOfRange(pixels, i * FashionMnistIdx.PIXELS,
          (i + 1) * FashionMnistIdx.PIXELS));
    }
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(model))) {
      MethodHarness harness = new MethodHarness(engine, model);
      run(harness, images.subList(0, Math.min(5, images.size())), true);
      System.out.println(run(harness, images, true).summary());
    }
  }
}
