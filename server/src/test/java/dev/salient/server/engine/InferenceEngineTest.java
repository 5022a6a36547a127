package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The engine's passes against the math: finite differences, PyTorch's own outputs, batching. */
class InferenceEngineTest {
  static final Path TORCHSCRIPT_FIXTURE = Path.of("src/test/resources/models/tiny-torchscript");

  static InferenceEngine engine;
  static ModelPackage fashion;
  static ModelPackage tiny;

  @BeforeAll
  static void load() {
    fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    tiny = ModelPackage.read(TORCHSCRIPT_FIXTURE);
    engine = InferenceEngine.load("cpu", List.of(fashion, tiny));
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void defaultModelGradientMatchesCentralFiniteDifferences() {
    // Fashion-MNIST has large constant (black) areas where max-pool windows tie, and a tie is a
    // kink; a little noise breaks the ties so that the network is locally linear around x.
    float[] image = TestImages.sample(0);
    Random noise = new Random(5);
    for (int i = 0; i < image.length; i++) {
      image[i] = Math.min(1f, image[i] + 0.05f * noise.nextFloat());
    }
    assertGradientMatchesFiniteDifferences(fashion, image, Pass.Output.LOGIT);
    assertGradientMatchesFiniteDifferences(fashion, image, Pass.Output.LOG_PROBABILITY);
  }

  @Test
  void torchScriptGradientMatchesCentralFiniteDifferences() {
    float[] image = randomImage(tiny.input(), new Random(3));
    assertGradientMatchesFiniteDifferences(tiny, image, Pass.Output.LOGIT);
    assertGradientMatchesFiniteDifferences(tiny, image, Pass.Output.PROBABILITY);
  }

  @Test
  void torchScriptRunsInEvalModeAsPyTorchDoes() {
    // make_fixture.py prints the traced module's logits for linspace(0, 1) as normalised input;
    // the pixels that normalise to it are 0.5 + 0.25 * linspace.
    int n = tiny.input().size();
    float[] pixels = new float[n];
    for (int i = 0; i < n; i++) {
      pixels[i] = (float) (0.5 + 0.25 * i / (n - 1.0));
    }
    float[] logits = engine.run(tiny.name(), Pass.forward(List.of(pixels))).logits().get(0);
    assertArrayEquals(new float[] {0.061676f, 0.087016f, -0.100377f, -0.175843f}, logits, 2e-5f);
  }

  @Test
  void batchedRowsGetTheGradientOfTheirOwnTarget() {
    float[] a = TestImages.sample(1);
    float[] b = TestImages.sample(2);
    PassResult batched = engine.run(fashion.name(),
        Pass.gradient(List.of(a, b), Pass.Output.LOGIT, new int[] {3, 7}, 10));
    PassResult aloneA = engine.run(fashion.name(),
        Pass.gradient(List.of(a), Pass.Output.LOGIT, new int[] {3}, 10));
    PassResult aloneB = engine.run(fashion.name(),
        Pass.gradient(List.of(b), Pass.Output.LOGIT, new int[] {7}, 10));
    assertArrayEquals(aloneA.gradients().get(0), batched.gradients().get(0), 1e-5f);
    assertArrayEquals(aloneB.gradients().get(0), batched.gradients().get(1), 1e-5f);
    assertArrayEquals(aloneA.logits().get(0), batched.logits().get(0), 1e-5f);
  }

  @Test
  void aPassThatRunsAloneGivesEachImageTheOutputsOfACallOfThatImageAlone() {
    List<float[]> images = List.of(TestImages.sample(1), TestImages.sample(2),
        TestImages.sample(3));
    PassResult alone = engine.run(fashion.name(),
        Pass.gradient(images, Pass.Output.LOGIT, new int[] {3, 7, 1}, 10).runAlone());
    int[] targets = {3, 7, 1};
    for (int i = 0; i < images.size(); i++) {
      PassResult single = engine.run(fashion.name(), Pass.gradient(List.of(images.get(i)),
          Pass.Output.LOGIT, new int[] {targets[i]}, 10));
      assertArrayEquals(single.logits().get(0), alone.logits().get(i), "row " + i);
      assertArrayEquals(single.gradients().get(0), alone.gradients().get(i), "row " + i);
    }
  }

  @Test
  void aPassThatRunsAloneSharesNoCall() {
    Pass alone = Pass.forward(List.of(TestImages.sample(1))).runAlone();
    Pass other = Pass.forward(List.of(TestImages.sample(2)));
    assertTrue(!alone.canShareCallWith(other) && !other.canShareCallWith(alone)
        && !alone.canShareCallWith(alone));
    assertThrows(IllegalArgumentException.class, () -> Pass.concat(List.of(alone, other)));
  }

  @Test
  void rowsOnDifferentOutputsInOneCallGetTheGradientOfTheirOwnObjective() {
    // Four requests' passes batched as the worker batches them: a logit, a probability and a
    // log-probability objective (the last a margin between two classes), and a ranked target.
    float[] a = TestImages.sample(1);
    float[] b = TestImages.sample(2);
    float[] c = TestImages.sample(3);
    float[] margin = new float[10];
    margin[4] = 1f;
    margin[6] = -1f;
    List<Pass> passes = List.of(
        Pass.gradient(List.of(a), Pass.Output.LOGIT, new int[] {3}, 10),
        Pass.gradient(List.of(b), Pass.Output.PROBABILITY, new int[] {7}, 10),
        new Pass(List.of(c), new Pass.Objective(Pass.Output.LOG_PROBABILITY, List.of(margin))),
        Pass.gradientOfRanked(List.of(b), Pass.Output.LOG_PROBABILITY, new int[] {2}));
    assertTrue(passes.stream().allMatch(p -> passes.get(0).canShareCallWith(p)));

    PassResult batched = engine.run(fashion.name(), Pass.concat(passes));

    for (int row = 0; row < passes.size(); row++) {
      PassResult alone = engine.run(fashion.name(), passes.get(row));
      assertArrayEquals(alone.gradients().get(0), batched.gradients().get(row), 1e-5f,
          "row " + row + " (" + passes.get(row).objective().outputOf(0) + ")");
      assertArrayEquals(alone.logits().get(0), batched.logits().get(row), 1e-5f);
    }
  }

  @Test
  void batchedPassesRunChannelsLastWithTheNumbersOfSingleImagePasses() {
    assertTrue(engine.runsChannelsLast(fashion.name(), 3));
    assertTrue(!engine.runsChannelsLast(fashion.name(), 1), "one image keeps the usual layout");
    assertTrue(!engine.runsChannelsLast(tiny.name(), 3), "TorchScript models run as exported");
    List<float[]> images =
        List.of(TestImages.sample(4), TestImages.sample(5), TestImages.sample(6));
    int[] targets = {0, 5, 9};
    Pass pass = Pass.gradient(images, Pass.Output.LOG_PROBABILITY, targets, 10)
        .with(Pass.Extras.FEATURE_LAYER);

    PassResult batched = engine.run(fashion.name(), pass);

    for (int i = 0; i < images.size(); i++) {
      PassResult alone = engine.run(fashion.name(),
          Pass.gradient(List.of(images.get(i)), Pass.Output.LOG_PROBABILITY,
              new int[] {targets[i]}, 10).with(Pass.Extras.FEATURE_LAYER));
      assertArrayEquals(alone.logits().get(0), batched.logits().get(i), 1e-5f);
      assertArrayEquals(alone.gradients().get(0), batched.gradients().get(i), 1e-5f);
      // Grad-CAM reads the feature maps and their gradient in (K, h, w) order.
      assertArrayEquals(alone.features().get(0), batched.features().get(i), 1e-4f);
      assertArrayEquals(alone.featureGradients().get(0), batched.featureGradients().get(i),
          1e-5f);
    }
  }

  @Test
  void forwardPassesDoNotShareACallWithGradientPasses() {
    Pass forward = Pass.forward(List.of(TestImages.sample(1)));
    Pass gradient = Pass.gradient(List.of(TestImages.sample(1)), Pass.Output.LOGIT,
        new int[] {0}, 10);
    assertTrue(!forward.canShareCallWith(gradient) && !gradient.canShareCallWith(forward));
    assertTrue(!gradient.canShareCallWith(gradient.with(new Pass.Extras(1f))),
        "a blur is computed for the whole call");
  }

  @Test
  void blurLeavesAConstantImageUnchanged() {
    float[] constant = new float[tiny.input().size()];
    java.util.Arrays.fill(constant, 0.37f);

    float[] blurred = blur(tiny, constant, 1.5f);

    assertArrayEquals(constant, blurred, 1e-6f);
  }

  @Test
  void blurRemovesHighFrequencyEnergy() {
    // A checkerboard is all energy at the highest frequency; a Gaussian of sigma 1 keeps about
    // exp(-pi^2) of its amplitude in the interior.
    InputSpec in = fashion.input();
    float[] checker = new float[in.size()];
    for (int y = 0; y < in.height(); y++) {
      for (int x = 0; x < in.width(); x++) {
        checker[y * in.width() + x] = (x + y) % 2 == 0 ? 1f : 0f;
      }
    }

    float[] blurred = blur(fashion, checker, 1f);

    assertTrue(highFrequencyEnergy(blurred, in) < 0.01 * highFrequencyEnergy(checker, in),
        "high-frequency energy after blur");
    for (float v : blurred) {
      assertTrue(v >= 0f && v <= 1f, "blurred values stay in the input's range");
    }
  }

  @Test
  void blurIsReturnedBesideTheGradientOfTheUnblurredImage() {
    float[] image = TestImages.sample(4);
    PassResult plain = engine.run(fashion.name(),
        Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {0}, 10));
    PassResult withBlur = engine.run(fashion.name(),
        Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {0}, 10)
            .with(new Pass.Extras(1f)));

    assertArrayEquals(plain.gradients().get(0), withBlur.gradients().get(0), 0f);
    assertEquals(image.length, withBlur.blurred().get(0).length);
  }

  private static float[] blur(ModelPackage model, float[] image, float sigma) {
    return engine.run(model.name(), Pass.forward(List.of(image)).with(new Pass.Extras(sigma)))
        .blurred().get(0);
  }

  /** Energy of the difference between horizontal neighbours, away from the border. */
  private static double highFrequencyEnergy(float[] image, InputSpec in) {
    double e = 0;
    for (int y = 4; y < in.height() - 4; y++) {
      for (int x = 4; x < in.width() - 5; x++) {
        double d = image[y * in.width() + x] - image[y * in.width() + x + 1];
        e += d * d;
      }
    }
    return e;
  }

  @Test
  void passesLeaveNoNativeArraysBehind() {
    float[] image = TestImages.sample(9);
    engine.run(fashion.name(), Pass.forward(List.of(image)));
    int before = engine.liveArrays();

    for (int i = 0; i < 50; i++) {
      engine.run(fashion.name(), Pass.forward(List.of(image, image)));
      engine.run(fashion.name(), Pass.gradient(List.of(image), Pass.Output.LOG_PROBABILITY,
          new int[] {i % 10}, 10).with(new Pass.Extras(1f)));
      engine.run(fashion.name(), Pass.gradientOfRanked(List.of(image), Pass.Output.LOGIT,
          new int[] {2}));
      engine.run(tiny.name(), Pass.gradient(List.of(randomImage(tiny.input(), new Random(i))),
          Pass.Output.PROBABILITY, new int[] {1}, 4));
    }

    assertEquals(before, engine.liveArrays());
  }

  @Test
  void forwardPassReturnsNoGradient() {
    PassResult r = engine.run(fashion.name(), Pass.forward(List.of(TestImages.sample(0))));
    assertEquals(null, r.gradients());
    assertEquals(10, r.logits().get(0).length);
  }

  @Test
  void imageOfTheWrongSizeIsRejected() {
    assertThrows(IllegalArgumentException.class,
        () -> engine.run(fashion.name(), Pass.forward(List.of(new float[5]))));
  }

  @Test
  void defaultModelClassifiesMostCommittedSamplesCorrectly() {
    int correct = 0;
    List<float[]> images = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    for (int i = 0; i < TestImages.count(); i++) {
      images.add(TestImages.sample(i));
      labels.add(TestImages.label(i, fashion));
    }
    PassResult r = engine.run(fashion.name(), Pass.forward(images));
    for (int i = 0; i < images.size(); i++) {
      if (argmax(r.logits().get(i)) == labels.get(i)) {
        correct++;
      }
    }
    double accuracy = correct / (double) images.size();
    assertTrue(accuracy >= 0.85, "accuracy on the committed samples was " + accuracy);
  }

  /**
   * Central differences along the gradient direction, along random directions, and per pixel at
   * the pixels with the largest gradient. ReLU networks are piecewise linear, so the estimates
   * are exact up to float32 rounding unless a step crosses a kink: small steps, loose tolerance.
   */
  private static void assertGradientMatchesFiniteDifferences(
      ModelPackage model, float[] image, Pass.Output output) {
    int classes = model.numClasses();
    float[] logits = engine.run(model.name(), Pass.forward(List.of(image))).logits().get(0);
    int target = argmax(logits);
    float[] g = engine.run(model.name(),
        Pass.gradient(List.of(image), output, new int[] {target}, classes)).gradients().get(0);
    double gNorm = norm(g);
    assertTrue(gNorm > 0, "gradient is zero");

    List<float[]> directions = new ArrayList<>();
    directions.add(scale(g, (float) (1 / gNorm)));
    Random random = new Random(11);
    for (int k = 0; k < 4; k++) {
      float[] v = new float[g.length];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) random.nextGaussian();
      }
      directions.add(scale(v, (float) (1 / norm(v))));
    }
    int[] topPixels = topIndices(g, 5);
    for (int p : topPixels) {
      float[] e = new float[g.length];
      e[p] = 1f;
      directions.add(e);
    }
    double h = 1e-4;
    List<float[]> probes = new ArrayList<>();
    for (float[] v : directions) {
      probes.add(add(image, v, (float) h));
      probes.add(add(image, v, (float) -h));
    }
    PassResult r = engine.run(model.name(), Pass.forward(probes));
    for (int d = 0; d < directions.size(); d++) {
      double fPlus = objective(r.logits().get(2 * d), target, output);
      double fMinus = objective(r.logits().get(2 * d + 1), target, output);
      double numeric = (fPlus - fMinus) / (2 * h);
      double analytic = dot(g, directions.get(d));
      assertEquals(analytic, numeric, 0.02 * gNorm + 2e-3,
          model.name() + " " + output + " direction " + d);
    }
  }

  private static double objective(float[] logits, int target, Pass.Output output) {
    float[] p = Softmax.of(logits);
    return switch (output) {
      case LOGIT -> logits[target];
      case PROBABILITY -> p[target];
      case LOG_PROBABILITY -> Math.log(p[target]);
    };
  }

  static float[] randomImage(InputSpec spec, Random random) {
    float[] x = new float[spec.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = 0.2f + 0.6f * random.nextFloat();
    }
    return x;
  }

  static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  private static int[] topIndices(float[] g, int k) {
    return java.util.stream.IntStream.range(0, g.length).boxed()
        .sorted((a, b) -> Float.compare(Math.abs(g[b]), Math.abs(g[a])))
        .limit(k).mapToInt(Integer::intValue).toArray();
  }

  private static double norm(float[] v) {
    return Math.sqrt(dot(v, v));
  }

  private static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += (double) a[i] * b[i];
    }
    return s;
  }

  private static float[] scale(float[] v, float s) {
    float[] out = new float[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = v[i] * s;
    }
    return out;
  }

  private static float[] add(float[] x, float[] v, float s) {
    float[] out = new float[x.length];
    for (int i = 0; i < x.length; i++) {
      out[i] = x[i] + s * v[i];
    }
    return out;
  }
}
