package dev.salient.tools.train;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.SoftmaxCrossEntropyLoss;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.tracker.Tracker;
import dev.salient.server.engine.ModelManifest;
import dev.salient.server.engine.builtin.FashionCnn;
import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Trains the built-in {@code fashion-mnist} model ({@link FashionCnn}) on Fashion-MNIST and writes
 * its model package (weights, labels, {@code model.json}) and 100 sample test images.
 *
 * <p>Recipe: Adam with a cosine learning-rate decay, softmax cross-entropy, each training image
 * flipped left-right with probability 0.5 (clothes are roughly mirror-symmetric; this is the
 * regulariser, as the block has no Dropout). Inputs are normalised outside the block, exactly as
 * the serving engine does from {@code model.json}.
 */
@Command(
    name = "train",
    description =
        "Trains the built-in fashion-mnist model on the full Fashion-MNIST training set, checks"
            + " it on the test set and writes the model package and sample images.")
public final class TrainDefaultModel implements Callable<Integer> {

  private static final Logger log = LoggerFactory.getLogger(TrainDefaultModel.class);

  /** Training-set pixel mean, exactly as written to {@code model.json}. */
  static final BigDecimal PIXEL_MEAN = new BigDecimal("0.2860");

  /** Training-set pixel standard deviation, exactly as written to {@code model.json}. */
  static final BigDecimal PIXEL_STD = new BigDecimal("0.3530");

  /** Below this test accuracy the command fails and writes nothing. */
  static final double MIN_TEST_ACCURACY = 0.90;

  /** Test images saved per class as samples. */
  static final int SAMPLES_PER_CLASS = 10;

  private static final float FINAL_LEARNING_RATE_FRACTION = 0.01f;
  private static final int EVAL_BATCH_SIZE = 250;
  private static final int RELOAD_CHECK_IMAGES = 500;

  @Spec CommandSpec spec;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help message and exit.")
  boolean helpRequested;

  @Option(
      names = "--data",
      defaultValue = "/usr/share/datasets/fashion-mnist",
      description = "Directory with the Fashion-MNIST IDX .gz files (default: ${DEFAULT-VALUE}).")
  Path dataDir;

  @Option(
      names = "--out",
      defaultValue = "server/src/main/resources/models/fashion-mnist",
      description = "Model package directory to write (default: ${DEFAULT-VALUE}).")
  Path outDir;

  @Option(
      names = "--samples",
      defaultValue = "samples/fashion-mnist",
      description = "Directory for the sample test images (default: ${DEFAULT-VALUE}).")
  Path samplesDir;

  @Option(
      names = "--epochs",
      defaultValue = "10",
      description = "Passes over the training set (default: ${DEFAULT-VALUE}).")
  int epochs;

  @Option(
      names = "--batch-size",
      defaultValue = "64",
      description = "Images per optimiser step (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--learning-rate",
      defaultValue = "0.001",
      description =
          "Initial Adam learning rate; it decays along a cosine to 1%% of this by the last step"
              + " (default: ${DEFAULT-VALUE}).")
  double learningRate;

  @Option(
      names = "--seed",
      defaultValue = "42",
      description =
          "Seed for weight initialisation, shuffling and flips (default: ${DEFAULT-VALUE}).")
  int seed;

  /** Runs the command and exits with its status: 0 on success, 1 if training fails the bar. */
  public static void main(String[] args) {
    quietDjlDebugLogging();
    CommandLine commandLine =
        new CommandLine(new TrainDefaultModel())
            .setExecutionExceptionHandler(
                (failure, failedCommand, parseResult) -> {
                  if (failure instanceof IOException) {
                    log.error("Training failed: {}", failure.getMessage());
                  } else {
                    log.error("Training failed", failure);
                  }
                  return 1;
                });
    System.exit(commandLine.execute(args));
  }

  /** Trains, evaluates and writes the model package; returns the exit status. */
  @Override
  public Integer call() throws IOException, MalformedModelException {
    validateOptions();
    long start = System.nanoTime();
    FashionMnistIdx.Split train = FashionMnistIdx.readTrain(dataDir);
    FashionMnistIdx.Split test = FashionMnistIdx.readTest(dataDir);
    log.info("Read {} training and {} test images from {}", train.count(), test.count(), dataDir);
    float[] trainInputs = normalise(train.pixels());
    float[] testInputs = normalise(test.pixels());

    Engine.getInstance().setRandomSeed(seed);
    try (Model model = Model.newInstance(FashionCnn.ID)) {
      model.setBlock(FashionCnn.newBlock());
      long trainStart = System.nanoTime();
      train(model, trainInputs, train.labels(), testInputs, test.labels());
      double trainingSeconds = (System.nanoTime() - trainStart) / 1e9;

      Block block = model.getBlock();
      double testAccuracy;
      double trainAccuracy;
      try (NDManager manager = model.getNDManager().newSubManager()) {
        testAccuracy = accuracy(block, manager, testInputs, test.labels());
        trainAccuracy = accuracy(block, manager, trainInputs, train.labels());
      }
      log.info(
          "Final accuracy: test {} train {} after {} s of training",
          String.format("%.4f", testAccuracy),
          String.format("%.4f", trainAccuracy),
          String.format("%.1f", trainingSeconds));
      if (testAccuracy < MIN_TEST_ACCURACY) {
        log.error(
            "Test accuracy {} is below the required {}; nothing written. Try more --epochs or"
                + " another --learning-rate.",
            String.format("%.4f", testAccuracy),
            MIN_TEST_ACCURACY);
        return 1;
      }

      writeModelPackage(block, testAccuracy, trainAccuracy, train.count(), test.count());
      checkReloadGivesSameLogits(block, testInputs);
      int samples = writeSamples(test);
      System.out.printf(
          "Trained %s: test accuracy %.4f, train accuracy %.4f, training %.0f s, total %.0f s.%n"
              + "Model package: %s (weights %d bytes); %d samples in %s%n",
          FashionCnn.ID,
          testAccuracy,
          trainAccuracy,
          trainingSeconds,
          (System.nanoTime() - start) / 1e9,
          outDir,
          Files.size(outDir.resolve("weights.params")),
          samples,
          samplesDir);
      return 0;
    }
  }

  private void validateOptions() {
    if (epochs < 1) {
      throw new ParameterException(spec.commandLine(), "--epochs must be at least 1");
    }
    if (batchSize < 1) {
      throw new ParameterException(spec.commandLine(), "--batch-size must be at least 1");
    }
    if (!(learningRate > 0)) {
      throw new ParameterException(spec.commandLine(), "--learning-rate must be positive");
    }
  }

  private void train(
      Model model, float[] inputs, int[] labels, float[] testInputs, int[] testLabels) {
    int count = labels.length;
    int batchesPerEpoch = (count + batchSize - 1) / batchSize;
    Tracker learningRateSchedule =
        Tracker.cosine()
            .setBaseValue((float) learningRate)
            .optFinalValue((float) learningRate * FINAL_LEARNING_RATE_FRACTION)
            .setMaxUpdates(epochs * batchesPerEpoch)
            .build();
    DefaultTrainingConfig config =
        new DefaultTrainingConfig(new SoftmaxCrossEntropyLoss())
            .optOptimizer(Adam.builder().optLearningRateTracker(learningRateSchedule).build());
    Random shuffleRandom = new Random(seed);
    Random augmentRandom = new Random(seed + 1L);
    int[] order = new int[count];
    Arrays.setAll(order, i -> i);
    float[] batchInputs = new float[batchSize * FashionMnistIdx.PIXELS];
    long[] batchLabels = new long[batchSize];

    try (Trainer trainer = model.newTrainer(config)) {
      trainer.initialize(FashionCnn.INPUT_SHAPE);
      for (int epoch = 1; epoch <= epochs; epoch++) {
        long epochStart = System.nanoTime();
        shuffle(order, shuffleRandom);
        double lossSum = 0;
        long correct = 0;
        for (int from = 0; from < count; from += batchSize) {
          int size = Math.min(batchSize, count - from);
          for (int i = 0; i < size; i++) {
            int image = order[from + i];
            System.arraycopy(
                inputs,
                image * FashionMnistIdx.PIXELS,
                batchInputs,
                i * FashionMnistIdx.PIXELS,
                FashionMnistIdx.PIXELS);
            batchLabels[i] = labels[image];
            if (augmentRandom.nextBoolean()) {
              flipLeftRight(batchInputs, i);
            }
          }
          try (NDManager batchManager = trainer.getManager().newSubManager()) {
            NDArray x =
                batchManager.create(
                    Arrays.copyOf(batchInputs, size * FashionMnistIdx.PIXELS), inputShape(size));
            NDArray y = batchManager.create(Arrays.copyOf(batchLabels, size));
            try (GradientCollector collector = trainer.newGradientCollector()) {
              NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
              NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
              collector.backward(loss);
              lossSum += loss.getFloat() * size;
              correct += logits.argMax(1).eq(y).countNonzero().getLong();
            }
            trainer.step();
          }
        }
        double testAccuracy;
        try (NDManager evalManager = trainer.getManager().newSubManager()) {
          testAccuracy = accuracy(model.getBlock(), evalManager, testInputs, testLabels);
        }
        log.info(
            "Epoch {}/{}: loss {} train accuracy {} (running, randomly flipped)"
                + " test accuracy {} in {} s",
            epoch,
            epochs,
            String.format("%.4f", lossSum / count),
            String.format("%.4f", (double) correct / count),
            String.format("%.4f", testAccuracy),
            String.format("%.1f", (System.nanoTime() - epochStart) / 1e9));
      }
    }
  }

  /** Fraction of images whose highest logit is their label. */
  private static double accuracy(Block block, NDManager manager, float[] inputs, int[] labels) {
    long correct = 0;
    for (int from = 0; from < labels.length; from += EVAL_BATCH_SIZE) {
      int to = Math.min(labels.length, from + EVAL_BATCH_SIZE);
      try (NDManager batchManager = manager.newSubManager()) {
        int[] predicted = predict(block, batchManager, inputs, from, to);
        for (int i = from; i < to; i++) {
          if (predicted[i - from] == labels[i]) {
            correct++;
          }
        }
      }
    }
    return (double) correct / labels.length;
  }

  private static int[] predict(Block block, NDManager manager, float[] inputs, int from, int to) {
    NDArray logits = logits(block, manager, inputs, from, to);
    return logits.argMax(1).toType(DataType.INT32, false).toIntArray();
  }

  private static NDArray logits(Block block, NDManager manager, float[] inputs, int from, int to) {
    NDArray x =
        manager.create(
            Arrays.copyOfRange(inputs, from * FashionMnistIdx.PIXELS, to * FashionMnistIdx.PIXELS),
            inputShape(to - from));
    return block
        .forward(new ParameterStore(manager, false), new NDList(x), false)
        .singletonOrThrow();
  }

  private void writeModelPackage(
      Block block, double testAccuracy, double trainAccuracy, int trainCount, int testCount)
      throws IOException {
    Files.createDirectories(outDir);
    try (DataOutputStream out =
        new DataOutputStream(
            new BufferedOutputStream(Files.newOutputStream(outDir.resolve("weights.params"))))) {
      block.saveParameters(out);
    }
    Files.writeString(
        outDir.resolve("labels.txt"),
        String.join("\n", FashionMnistIdx.CLASS_NAMES) + "\n",
        StandardCharsets.UTF_8);
    manifest(testAccuracy, trainAccuracy, trainCount, testCount)
        .write(outDir.resolve(ModelManifest.FILE_NAME));
    log.info("Wrote model package to {}", outDir);
  }

  /** The package's {@code model.json}: the default model's inputs, its accuracy, the recipe. */
  ModelManifest manifest(
      double testAccuracy, double trainAccuracy, int trainCount, int testCount) {
    Map<String, BigDecimal> metrics = new LinkedHashMap<>();
    metrics.put("test_accuracy", fourDecimals(testAccuracy));
    metrics.put("train_accuracy", fourDecimals(trainAccuracy));
    return new ModelManifest(
        "fashion-mnist",
        "Small CNN trained by Salient on Fashion-MNIST (60k train, 10k test)",
        ModelManifest.BUILTIN,
        FashionCnn.ID,
        "weights.params",
        "labels.txt",
        new ModelManifest.Input(
            1,
            FashionMnistIdx.SIDE,
            FashionMnistIdx.SIDE,
            0.0,
            1.0,
            List.of(PIXEL_MEAN),
            List.of(PIXEL_STD)),
        Integer.toString(FashionCnn.FEATURE_LAYER),
        metrics,
        new ModelManifest.Training(
            "Fashion-MNIST (Debian dataset-fashion-mnist), %d train / %d test"
                .formatted(trainCount, testCount),
            epochs,
            batchSize,
            "Adam (beta1 0.9, beta2 0.999, eps 1e-8), learning rate decayed along a cosine"
                + " to 1% of its initial value over all steps; each training image flipped"
                + " left-right with probability 0.5",
            learningRate,
            seed,
            "./salient train"));
  }

  /** Loads the written weights into a fresh block and requires bit-identical logits. */
  private void checkReloadGivesSameLogits(Block trained, float[] testInputs)
      throws IOException, MalformedModelException {
    try (NDManager manager = NDManager.newBaseManager()) {
      Block reloaded = FashionCnn.newBlock();
      reloaded.initialize(manager, DataType.FLOAT32, FashionCnn.INPUT_SHAPE);
      try (DataInputStream in =
          new DataInputStream(
              new BufferedInputStream(Files.newInputStream(outDir.resolve("weights.params"))))) {
        reloaded.loadParameters(manager, in);
      }
      float[] expected =
          logits(trained, manager, testInputs, 0, RELOAD_CHECK_IMAGES).toFloatArray();
      float[] actual = logits(reloaded, manager, testInputs, 0, RELOAD_CHECK_IMAGES).toFloatArray();
      if (!Arrays.equals(expected, actual)) {
        throw new IllegalStateException(
            "Reloading " + outDir.resolve("weights.params") + " gives different logits");
      }
      log.info("Reloaded weights give identical logits on {} test images", RELOAD_CHECK_IMAGES);
    }
  }

  /** Writes the first {@value #SAMPLES_PER_CLASS} test images of each class as PNGs. */
  private int writeSamples(FashionMnistIdx.Split test) throws IOException {
    Files.createDirectories(samplesDir);
    try (DirectoryStream<Path> stale =
        Files.newDirectoryStream(samplesDir, "[0-9][0-9][0-9]_*_idx*.png")) {
      for (Path file : stale) {
        Files.delete(file);
      }
    }
    int written = 0;
    for (int label = 0; label < FashionMnistIdx.CLASS_NAMES.size(); label++) {
      int ofClass = 0;
      for (int index = 0; index < test.count() && ofClass < SAMPLES_PER_CLASS; index++) {
        if (test.labels()[index] != label) {
          continue;
        }
        String name =
            String.format(
                "%03d_%s_idx%04d.png",
                written, fileSafe(FashionMnistIdx.CLASS_NAMES.get(label)), index);
        ImageIO.write(
            toGreyscaleImage(test.pixels(), index), "png", samplesDir.resolve(name).toFile());
        ofClass++;
        written++;
      }
    }
    Files.writeString(samplesDir.resolve("README.md"), samplesReadme(), StandardCharsets.UTF_8);
    log.info("Wrote {} sample images to {}", written, samplesDir);
    return written;
  }

  private static BufferedImage toGreyscaleImage(float[] pixels, int index) {
    int side = FashionMnistIdx.SIDE;
    BufferedImage image = new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY);
    WritableRaster raster = image.getRaster();
    int offset = index * FashionMnistIdx.PIXELS;
    for (int y = 0; y < side; y++) {
      for (int x = 0; x < side; x++) {
        raster.setSample(x, y, 0, Math.round(pixels[offset + y * side + x] * 255f));
      }
    }
    return image;
  }

  private static String samplesReadme() {
    return "# Fashion-MNIST samples\n\n"
        + "These 100 images are the first "
        + SAMPLES_PER_CLASS
        + " images of each class, in test-set order, from the Fashion-MNIST test set"
        + " (Zalando Research, https://github.com/zalandoresearch/fashion-mnist, MIT license;"
        + " read from Debian's dataset-fashion-mnist), saved unchanged as 28x28 8-bit greyscale"
        + " PNGs by `./salient train`. The built-in fashion-mnist model never saw them in"
        + " training. Names are `NNN_Label_idxIIII.png`: a running number grouped by class"
        + " (000-009 are T-shirt/top, ..., 090-099 are Ankle boot), the true label with '/' and"
        + " spaces replaced by '_', and the image's index in the 10,000-image test set.\n";
  }

  private static String fileSafe(String label) {
    return label.replaceAll("[^A-Za-z0-9-]+", "_");
  }

  private static float[] normalise(float[] pixels) {
    float mean = PIXEL_MEAN.floatValue();
    float std = PIXEL_STD.floatValue();
    float[] normalised = new float[pixels.length];
    for (int i = 0; i < pixels.length; i++) {
      normalised[i] = (pixels[i] - mean) / std;
    }
    return normalised;
  }

  private static void flipLeftRight(float[] images, int index) {
    int side = FashionMnistIdx.SIDE;
    int offset = index * FashionMnistIdx.PIXELS;
    for (int row = offset; row < offset + FashionMnistIdx.PIXELS; row += side) {
      for (int left = row, right = row + side - 1; left < right; left++, right--) {
        float swap = images[left];
        images[left] = images[right];
        images[right] = swap;
      }
    }
  }

  private static Shape inputShape(int batch) {
    return new Shape(batch, 1, FashionMnistIdx.SIDE, FashionMnistIdx.SIDE);
  }

  private static void shuffle(int[] order, Random random) {
    for (int i = order.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int swap = order[i];
      order[i] = order[j];
      order[j] = swap;
    }
  }

  private static BigDecimal fourDecimals(double value) {
    return BigDecimal.valueOf(value).setScale(4, RoundingMode.HALF_EVEN);
  }

  // Without a logback.xml logback logs at DEBUG, and DJL's debug lines drown the epoch lines.
  private static void quietDjlDebugLogging() {
    if (LoggerFactory.getLogger("ai.djl") instanceof ch.qos.logback.classic.Logger djl
        && djl.getLevel() == null) {
      djl.setLevel(ch.qos.logback.classic.Level.INFO);
    }
  }
}
