package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.tracker.Tracker;
import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.engine.builtin.FashionCnn;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seed 003, Fig. 1, reproduced: a data set in which a planted black box is the only evidence for
 * a class, a classifier trained on it here, and the importance inside and outside the box.
 * Rectified Gradient multiplies by the input, which is 0 in the box, so every score there is
 * exactly 0; the no-bias modification leaves that step out and shows the box.
 *
 * <p>The data: the 100 committed Fashion-MNIST samples, garments as backgrounds mapped to bright
 * values ({@code 1 - 0.7 x}, so in [0.3, 1]), shifted and flipped at random; in half the images a
 * 6x6 box of 0 at a random place. Samples 0-79 make the training images, 80-99 the held-out ones.
 * The model is the default model's architecture (fashion-cnn-v1, ten outputs; class 0 "no box",
 * class 1 "box", the other eight never a label), trained with Adam for three epochs of 2000
 * images, then packaged and served by the engine like any model.
 */
@Tag("evaluation")
class RectGradDarkBoxTest {
  static final int SIZE = 28;
  static final int BOX = 6;
  static final int BOX_CLASS = 1;

  @TempDir
  Path packageDirectory;

  /** A generated image and, when it has one, its box's top-left corner. */
  record Sample(float[] pixels, int boxY, int boxX) {
    boolean hasBox() {
      return boxY >= 0;
    }

    boolean inBox(int pixel) {
      int y = pixel / SIZE;
      int x = pixel % SIZE;
      return hasBox() && y >= boxY && y < boxY + BOX && x >= boxX && x < boxX + BOX;
    }
  }

  @Test
  void rectgradScoresTheDarkBoxZeroAndTheNoBiasVariantDoesNot() throws IOException {
    List<Sample> training = samples(0, 80, 2000, new Random(1));
    List<Sample> heldOut = samples(80, 100, 400, new Random(2));
    trainAndPackage(training, packageDirectory);
    ModelPackage model = ModelPackage.read(packageDirectory);

    InferenceEngine engine = InferenceEngine.load("cpu", List.of(model));
    try {
      MethodHarness harness = new MethodHarness(engine, model);
      int correct = 0;
      for (Sample s : heldOut) {
        float[] logits = harness.logits(s.pixels());
        int predicted = logits[BOX_CLASS] > logits[0] ? BOX_CLASS : 0;
        correct += predicted == (s.hasBox() ? BOX_CLASS : 0) ? 1 : 0;
      }
      double accuracy = (double) correct / heldOut.size();

      Scores rectgrad = new Scores();
      Scores noBias = new Scores();
      for (Sample s : heldOut) {
        if (!s.hasBox()) {
          continue;
        }
        rectgrad.add(s, harness.run(RectifiedGradient.withInput(), Map.of(), s.pixels(),
            BOX_CLASS).map("rectgrad").tensor().data());
        noBias.add(s, harness.run(RectifiedGradient.noBias(), Map.of(), s.pixels(), BOX_CLASS)
            .map("rectgrad_nobias").tensor().data());
      }
      System.out.printf(Locale.ROOT, "dark-box data set: held-out accuracy %.3f (%d images)%n",
          accuracy, heldOut.size());
      System.out.println("rectgrad        " + rectgrad.summary());
      System.out.println("rectgrad_nobias " + noBias.summary());

      assertTrue(accuracy >= 0.95, "the model learns the box: accuracy " + accuracy);
      assertEquals(0, rectgrad.insideNonZero, "every rectgrad score inside a box is exactly 0");
      assertTrue(rectgrad.outsideNonZero > 0, "rectgrad scores something outside the boxes");
      assertTrue(noBias.insideNonZeroFraction() > 0.5, noBias.summary());
      assertTrue(noBias.insideMeanAbs() > noBias.outsideMeanAbs(), noBias.summary());
    } finally {
      engine.close();
    }
  }

  /** Scores inside and outside the boxes, each as a share of its image's largest |score|. */
  static final class Scores {
    final List<Double> inside = new ArrayList<>();
    final List<Double> outside = new ArrayList<>();
    int insideNonZero;
    int outsideNonZero;

    void add(Sample s, float[] map) {
      double max = 0;
      for (float v : map) {
        max = Math.max(max, Math.abs(v));
      }
      for (int p = 0; p < map.length; p++) {
        double v = max == 0 ? 0 : Math.abs(map[p]) / max;
        if (s.inBox(p)) {
          inside.add(v);
          insideNonZero += map[p] != 0 ? 1 : 0;
        } else {
          outside.add(v);
          outsideNonZero += map[p] != 0 ? 1 : 0;
        }
      }
    }

    double insideNonZeroFraction() {
      return (double) insideNonZero / inside.size();
    }

    double insideMeanAbs() {
      return inside.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    double outsideMeanAbs() {
      return outside.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }

    String summary() {
      return String.format(Locale.ROOT, "inside: %d scores, %.1f %% non-zero, mean |score| %.4f, "
          + "histogram %s; outside: %d scores, %.1f %% non-zero, mean |score| %.4f, histogram %s",
          inside.size(), 100.0 * insideNonZero / inside.size(), insideMeanAbs(),
          Arrays.toString(histogram(inside)), outside.size(),
          100.0 * outsideNonZero / outside.size(), outsideMeanAbs(),
          Arrays.toString(histogram(outside)));
    }

    /** Shares (percent) of scores in ten bins of |score| / image max: [0], (0, 0.1), ... */
    static String[] histogram(List<Double> values) {
      int[] bins = new int[11];
      for (double v : values) {
        bins[v == 0 ? 0 : Math.min(10, 1 + (int) (v * 10))]++;
      }
      String[] out = new String[11];
      for (int b = 0; b < 11; b++) {
        out[b] = String.format(Locale.ROOT, "%.1f", 100.0 * bins[b] / values.size());
      }
      return out;
    }
  }

  /** {@code count} images from the garments {@code [from, to)}, half with a box. */
  static List<Sample> samples(int from, int to, int count, Random random) {
    List<float[]> garments = new ArrayList<>();
    for (int i = from; i < to; i++) {
      garments.add(TestImages.sample(i));
    }
    List<Sample> samples = new ArrayList<>();
    for (int n = 0; n < count; n++) {
      float[] garment = garments.get(random.nextInt(garments.size()));
      int dy = random.nextInt(5) - 2;
      int dx = random.nextInt(5) - 2;
      boolean flip = random.nextBoolean();
      float[] pixels = new float[SIZE * SIZE];
      for (int y = 0; y < SIZE; y++) {
        for (int x = 0; x < SIZE; x++) {
          int sy = y - dy;
          int sx = flip ? SIZE - 1 - (x - dx) : x - dx;
          float v = sy >= 0 && sy < SIZE && sx >= 0 && sx < SIZE ? garment[sy * SIZE + sx] : 0f;
          pixels[y * SIZE + x] = 1f - 0.7f * v;
        }
      }
      int boxY = -1;
      int boxX = -1;
      if (n % 2 == 1) {
        boxY = random.nextInt(SIZE - BOX + 1);
        boxX = random.nextInt(SIZE - BOX + 1);
        for (int y = boxY; y < boxY + BOX; y++) {
          Arrays.fill(pixels, y * SIZE + boxX, y * SIZE + boxX + BOX, 0f);
        }
      }
      samples.add(new Sample(pixels, boxY, boxX));
    }
    return samples;
  }

  /** Trains fashion-cnn-v1 on {@code training} and writes a model package to {@code dir}. */
  static void trainAndPackage(List<Sample> training, Path dir) throws IOException {
    int batch = 32;
    int epochs = 3;
    int steps = epochs * ((training.size() + batch - 1) / batch);
    ai.djl.engine.Engine.getEngine("PyTorch").setRandomSeed(7);
    Random order = new Random(3);
    try (Model model = Model.newInstance("dark-box", "PyTorch")) {
      model.setBlock(FashionCnn.newBlock());
      DefaultTrainingConfig config = new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
          .optOptimizer(Adam.builder().optLearningRateTracker(Tracker.cosine()
              .setBaseValue(0.002f).optFinalValue(0.00002f).setMaxUpdates(steps).build())
              .build());
      try (Trainer trainer = model.newTrainer(config)) {
        trainer.initialize(FashionCnn.INPUT_SHAPE);
        List<Sample> shuffled = new ArrayList<>(training);
        for (int epoch = 0; epoch < epochs; epoch++) {
          java.util.Collections.shuffle(shuffled, order);
          for (int start = 0; start < shuffled.size(); start += batch) {
            int size = Math.min(batch, shuffled.size() - start);
            float[] x = new float[size * SIZE * SIZE];
            float[] y = new float[size];
            for (int i = 0; i < size; i++) {
              Sample s = shuffled.get(start + i);
              System.arraycopy(s.pixels(), 0, x, i * SIZE * SIZE, SIZE * SIZE);
              y[i] = s.hasBox() ? BOX_CLASS : 0;
            }
            try (NDManager scope = trainer.getManager().newSubManager()) {
              NDArray input = scope.create(x, new Shape(size, 1, SIZE, SIZE));
              NDArray labels = scope.create(y);
              try (GradientCollector collector = trainer.newGradientCollector()) {
                NDArray logits = trainer.forward(new NDList(input)).singletonOrThrow();
                collector.backward(trainer.getLoss().evaluate(new NDList(labels),
                    new NDList(logits)));
              }
              trainer.step();
            }
          }
        }
      }
      try (OutputStream out = Files.newOutputStream(dir.resolve("weights.params"));
          DataOutputStream data = new DataOutputStream(out)) {
        model.getBlock().saveParameters(data);
      }
    }
    List<String> labels = new ArrayList<>(List.of("no box", "box"));
    for (int c = 2; c < FashionCnn.NUM_CLASSES; c++) {
      labels.add("unused " + c);
    }
    Files.write(dir.resolve("labels.txt"), labels);
    Files.writeString(dir.resolve("model.json"), """
        {
          "name" : "dark-box",
          "description" : "fashion-cnn-v1 trained to find a planted black box (seed 003 Fig. 1)",
          "format" : "builtin",
          "architecture" : "fashion-cnn-v1",
          "weights" : "weights.params",
          "labels" : "labels.txt",
          "input" : { "channels" : 1, "height" : 28, "width" : 28, "pixel_min" : 0.0,
                      "pixel_max" : 1.0, "mean" : [ 0.0 ], "std" : [ 1.0 ] }
        }
        """);
  }
}
