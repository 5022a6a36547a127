package dev.salient.server.engine;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models of one device and the passes run on them. Not thread-safe by design: a device
 * worker creates it and calls it from its single engine thread only.
 *
 * <p>Input gradients do not use DJL's {@code GradientCollector}, which allows one collector per
 * JVM: libtorch's grad mode is thread-local, so each engine thread switches it on for its own
 * backward pass (STACK.md). That is what lets several devices' workers run in one JVM.
 */
public final class InferenceEngine implements PassEngine {
  private static final Logger log = LoggerFactory.getLogger(InferenceEngine.class);
  /** Images in the pass that compares gradients with oneDNN and without, at load. */
  private static final int ONE_DNN_CHECK_IMAGES = 2;
  /**
   * How far oneDNN's gradients may be from the others, as a share of their norm: rounding moves a
   * deep network's tiny gradients by up to ~4e-3 (a random-weight MobileNetV2), the fault by 0.5
   * and more.
   */
  private static final double ONE_DNN_TOLERANCE = 0.1;

  /** Set to a number, DJL's property fixes libtorch's intra-op threads for every model. */
  public static final String THREADS_PROPERTY = "ai.djl.pytorch.num_threads";
  /** All intra-op threads must make a pass at least this much faster than one thread does. */
  static final double MORE_THREADS_MIN_SPEEDUP = 1.25;
  /** Calls of at least this many images use the threads chosen for large calls. */
  static final int LARGE_CALL = 4;
  /** The batch size the choice for large calls is measured at. */
  private static final int LARGE_CALIBRATION_BATCH = LARGE_CALL;
  private static final long CALIBRATION_WARMUP_NANOS = 300_000_000L;
  /** Measuring goes on for up to 9 pairs of passes while within this time (3 pairs at least). */
  private static final long CALIBRATION_MEASURE_NANOS = 1_500_000_000L;
  /** The best batch is the largest within this fraction of the lowest time per image. */
  static final double BEST_BATCH_TOLERANCE = 0.1;
  /** Batch sizes stop growing once two in a row cost this many times the lowest per image. */
  private static final double PAST_PEAK = 1.3;
  /** Batch sizes whose call would take longer than this are not tried. */
  private static final long CALIBRATION_CALL_NANOS = 2_000_000_000L;

  /** Intra-op threads of one model for calls of fewer than {@link #LARGE_CALL} images, and more. */
  private record Threads(int small, int large) {
    int forBatch(int images) {
      return images >= LARGE_CALL ? large : small;
    }
  }

  private final String deviceName;
  private final NDManager manager;
  private final Map<String, LoadedModel> models;
  /** Models whose gradient passes oneDNN gets wrong: they run without it. */
  private final Set<String> gradientsWithoutOneDnn = new HashSet<>();
  /** Intra-op threads per model (CPU); a model not listed runs with whatever is set. */
  private final Map<String, Threads> threadsByModel = new LinkedHashMap<>();
  /** Largest call per model, where measured ({@link #measureBestBatch}). */
  private final Map<String, Integer> bestBatchByModel = new LinkedHashMap<>();
  private int currentThreads = -1;

  private InferenceEngine(String deviceName, NDManager manager, Map<String, LoadedModel> models) {
    this.deviceName = deviceName;
    this.manager = manager;
    this.models = models;
  }

  /**
   * Loads {@code packages} onto device {@code deviceName} ("cpu" or "gpu:N"). Call it on the
   * engine thread that will use the engine.
   */
  public static InferenceEngine load(String deviceName, Collection<ModelPackage> packages) {
    return load(deviceName, packages, Runtime.getRuntime().availableProcessors());
  }

  /**
   * Loads {@code packages} onto device {@code deviceName} as above; on CPU its passes use at most
   * {@code cpuThreads} intra-op threads (its share of the cores when several CPU workers run).
   */
  public static InferenceEngine load(String deviceName, Collection<ModelPackage> packages,
      int cpuThreads) {
    if (cpuThreads < 1) {
      throw new IllegalArgumentException("cpuThreads must be at least 1, got " + cpuThreads);
    }
    // Loads the native library; JniUtils calls before this fail with UnsatisfiedLinkError.
    ai.djl.engine.Engine.getEngine("PyTorch");
    Nnpack.disableWhereUnavailable();
    // A new Java thread starts with libtorch grad mode ON; passes switch it on only when needed.
    JniUtils.setGradMode(false);
    Device device = parseDevice(deviceName);
    NDManager manager = NDManager.newBaseManager(device, "PyTorch");
    Map<String, LoadedModel> models = new LinkedHashMap<>();
    try {
      for (ModelPackage pkg : packages) {
        long start = System.nanoTime();
        LoadedModel model =
            switch (pkg.format()) {
              case BUILTIN -> BuiltinModel.load(pkg, manager);
              case TORCHSCRIPT -> pkg.featureLayer() == null
                  ? TorchScriptModel.load(pkg, device)
                  : TorchScriptTwoPartModel.load(pkg, device);
            };
        models.put(pkg.name(), model);
        log.info("loaded model {} ({}, input {}) on {} in {} ms{}", pkg.name(), pkg.format(),
            pkg.input(), deviceName, (System.nanoTime() - start) / 1_000_000,
            model instanceof BuiltinModel builtin && builtin.channelsLastFromImages() > 0
                ? "; passes of " + builtin.channelsLastFromImages()
                    + " images or more run in channels-last memory layout"
                : "");
      }
    } catch (RuntimeException e) {
      models.values().forEach(LoadedModel::close);
      manager.close();
      throw e;
    }
    InferenceEngine engine = new InferenceEngine(deviceName, manager, models);
    if (!device.isGpu()) {
      try {
        models.keySet().forEach(engine::checkOneDnnGradients);
        engine.chooseThreads(cpuThreads);
      } catch (RuntimeException e) {
        engine.close();
        throw e;
      }
    }
    return engine;
  }

  /**
   * Chooses libtorch's intra-op threads for each model, by measurement: gradient passes of one
   * image and of {@value #LARGE_CALIBRATION_BATCH} with one thread against all {@code all} it may
   * use (its share of the cores). Small
   * calls on small models run faster on one thread (the default model: ~1 ms against ~2 ms on
   * two, where OpenMP's hand-offs cost more than the work they share), and one engine thread
   * leaves the other cores to gRPC and the clients; large calls on large models take them all
   * (ResNet-18 at batch 4: ~1.5x faster on two). Unless all threads are
   * {@link #MORE_THREADS_MIN_SPEEDUP} times faster, one thread wins.
   * {@code -Dai.djl.pytorch.num_threads=N} fixes N for every model instead.
   */
  private void chooseThreads(int all) {
    String fixed = System.getProperty(THREADS_PROPERTY);
    if (fixed != null) {
      int n = Integer.parseInt(fixed.trim());
      models.keySet().forEach(name -> threadsByModel.put(name, new Threads(n, n)));
      log.info("{} intra-op threads for every model on {} (-D{})", n, deviceName,
          THREADS_PROPERTY);
      return;
    }
    for (var entry : models.entrySet()) {
      String name = entry.getKey();
      if (all == 1) {
        threadsByModel.put(name, new Threads(1, 1));
        continue;
      }
      ModelPackage pkg = entry.getValue().modelPackage();
      double[] small = calibrate(name, pkg, 1, all);
      double[] large = calibrate(name, pkg, LARGE_CALIBRATION_BATCH, all);
      Threads chosen = new Threads(winner(small, all), winner(large, all));
      threadsByModel.put(name, chosen);
      log.info("model {} on {}: {} intra-op thread(s) below {} images, {} from {} (gradient "
              + "pass of 1 image: {} ms on one thread, {} ms on {}; of {}: {} ms, {} ms)",
          name, deviceName, chosen.small(), LARGE_CALL, chosen.large(), LARGE_CALL,
          ms(small[0]), ms(small[1]), all, LARGE_CALIBRATION_BATCH, ms(large[0]), ms(large[1]));
    }
  }

  private static int winner(double[] oneAndAll, int all) {
    return oneAndAll[0] > MORE_THREADS_MIN_SPEEDUP * oneAndAll[1] ? all : 1;
  }

  private static String ms(double nanos) {
    return String.format(Locale.ROOT, "%.2f", nanos / 1e6);
  }

  /**
   * Median times of a batch-{@code batch} gradient pass on one thread and on {@code all}: warmed
   * up first (first passes allocate, OpenMP starts its threads), then alternated so that load
   * elsewhere hits both alike; at least 3 pairs, more while within the time budget.
   */
  private double[] calibrate(String name, ModelPackage pkg, int batch, int all) {
    Pass pass = calibrationPass(pkg, batch);
    long start = System.nanoTime();
    do {
      timedPass(name, pass, 1);
      timedPass(name, pass, all);
    } while (System.nanoTime() - start < CALIBRATION_WARMUP_NANOS);
    List<Long> one = new ArrayList<>();
    List<Long> many = new ArrayList<>();
    long measuring = System.nanoTime();
    while (one.size() < 3 || (one.size() < 9
        && System.nanoTime() - measuring < CALIBRATION_MEASURE_NANOS)) {
      one.add(timedPass(name, pass, 1));
      many.add(timedPass(name, pass, all));
    }
    return new double[] {median(one), median(many)};
  }

  /** A gradient pass of {@code batch} mid-grey images, what start-up measurements time. */
  private static Pass calibrationPass(ModelPackage pkg, int batch) {
    float[] image = new float[pkg.input().size()];
    Arrays.fill(image, (pkg.input().pixelMin() + pkg.input().pixelMax()) / 2);
    return Pass.gradient(Collections.nCopies(batch, image), Pass.Output.LOGIT, new int[batch],
        pkg.numClasses());
  }

  private long timedPass(String modelName, Pass pass, int threads) {
    threadsByModel.put(modelName, new Threads(threads, threads));
    long start = System.nanoTime();
    run(modelName, pass);
    return System.nanoTime() - start;
  }

  private static double median(List<Long> values) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }

  /**
   * The intra-op threads a call of {@code images} images on {@code modelName} runs with (CPU),
   * or 0 when none was chosen (the engine leaves libtorch's setting alone).
   */
  public int threads(String modelName, int images) {
    Threads threads = threadsByModel.get(modelName);
    return threads == null ? 0 : threads.forBatch(images);
  }

  /**
   * Loads the builtin package {@code pkg}'s architecture with random weights instead of its
   * trained ones (DJL's default initialisers, libtorch generator seeded with {@code seed}), under
   * the package's name. For the model-randomisation sanity check of saliency methods (Adebayo et
   * al. 2018): maps that barely change when the weights are random do not explain the model.
   * Call it on the engine thread that will use the engine.
   */
  public static InferenceEngine loadRandomlyInitialised(String deviceName, ModelPackage pkg,
      int seed) {
    if (pkg.format() != ModelPackage.Format.BUILTIN) {
      throw new IllegalArgumentException("model " + pkg.name()
          + ": only builtin architectures can be rebuilt with random weights");
    }
    ai.djl.engine.Engine.getEngine("PyTorch");
    Nnpack.disableWhereUnavailable();
    JniUtils.setGradMode(false);
    NDManager manager = NDManager.newBaseManager(parseDevice(deviceName), "PyTorch");
    try {
      LoadedModel model = BuiltinModel.loadRandomlyInitialised(pkg, manager, seed);
      return new InferenceEngine(deviceName, manager, Map.of(pkg.name(), model));
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Parses "cpu" or "gpu:N". */
  public static Device parseDevice(String name) {
    if (name.equals("cpu")) {
      return Device.cpu();
    }
    if (name.matches("gpu:\\d+")) {
      return Device.gpu(Integer.parseInt(name.substring(4)));
    }
    throw new IllegalArgumentException("device must be \"cpu\" or \"gpu:N\", not \"" + name + "\"");
  }

  /** The device this engine runs on. */
  public String deviceName() {
    return deviceName;
  }

  /**
   * Runs {@code pass} on model {@code modelName}: one forward over the batch and, when the pass
   * has an objective, one backward that gives every image the input gradient of its own
   * objective. All native memory of the pass is freed before it returns.
   */
  @Override
  public PassResult run(String modelName, Pass pass) {
    LoadedModel model = models.get(modelName);
    if (model == null) {
      throw new IllegalArgumentException("model " + modelName + " is not loaded on " + deviceName);
    }
    // A pass that runs alone has a fixed shape: one image per call (see Pass#alone).
    int limit = pass.alone() ? 1 : bestBatch(modelName);
    if (pass.size() <= limit) {
      return runCall(modelName, model, pass);
    }
    List<PassResult> parts = new ArrayList<>();
    for (int from = 0; from < pass.size(); from += limit) {
      parts.add(runCall(modelName, model, pass.slice(from, Math.min(pass.size(), from + limit))));
    }
    return PassResult.concat(parts);
  }

  /**
   * Compares a gradient pass of two images with oneDNN and without, and runs the model's gradient
   * passes without oneDNN from now on when they differ by more than rounding. libtorch 2.7.1's
   * oneDNN convolution backward gives wrong input gradients, in batches of two images or more,
   * for convolutions of few output channels at stride 1 (measured: 2 or 8 channels wrong by
   * 55-115 % of the largest value, 16 or more right to 5e-7; batches of one image do not use it
   * there); the forward pass is right. Which layers a TorchScript model has is not known here,
   * so each model is measured.
   */
  private void checkOneDnnGradients(String modelName) {
    LoadedModel model = models.get(modelName);
    ModelPackage pkg = model.modelPackage();
    Random random = new Random(27);
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < ONE_DNN_CHECK_IMAGES; i++) {
      images.add(pkg.input().randomImage(random));
    }
    Pass pass = Pass.gradient(images, Pass.Output.LOGIT, new int[ONE_DNN_CHECK_IMAGES],
        pkg.numClasses());
    PassResult with = call(modelName, model, pass);
    PassResult without = OneDnn.without(() -> call(modelName, model, pass));
    double squaredDifference = 0;
    double squaredNorm = 0;
    for (int i = 0; i < ONE_DNN_CHECK_IMAGES; i++) {
      float[] right = without.gradients().get(i);
      float[] got = with.gradients().get(i);
      for (int k = 0; k < right.length; k++) {
        double d = Float.isFinite(got[k]) ? got[k] - right[k] : Double.POSITIVE_INFINITY;
        squaredDifference += d * d;
        squaredNorm += (double) right[k] * right[k];
      }
    }
    double relative = squaredDifference == 0 ? 0 : Math.sqrt(squaredDifference / squaredNorm);
    if (!(relative <= ONE_DNN_TOLERANCE)) {
      gradientsWithoutOneDnn.add(modelName);
      log.warn(String.format(Locale.ROOT, "model %s: libtorch's oneDNN convolution backward gives "
          + "it wrong input gradients in batches (%.3g of their norm off, against libtorch's "
          + "other kernels; a fault of libtorch 2.7.1 with convolutions of few output channels "
          + "at stride 1); its gradient passes run without oneDNN, which makes convolutions "
          + "slower for every model while they run", modelName, relative));
    }
  }

  /** Whether model {@code modelName}'s gradient passes run without oneDNN. */
  boolean gradientsWithoutOneDnn(String modelName) {
    return gradientsWithoutOneDnn.contains(modelName);
  }

  @Override
  public int bestBatch(String modelName) {
    return bestBatchByModel.getOrDefault(modelName, Integer.MAX_VALUE);
  }

  /**
   * Measures, for each model, the time per image of gradient passes of 1, 2, 4, ... images up
   * to {@code maxBatch}, and from then on runs no call larger than the best (passes given more
   * images run in slices of it): the largest batch within {@value #BEST_BATCH_TOLERANCE} of the
   * lowest time per image. Past some size a call costs more per image, not less: on CPU a
   * batch's activations outgrow the caches, and tensors larger than malloc keeps for reuse are
   * faulted in afresh on every call (MobileNetV2 at 224 pixels, docs/performance). A size whose
   * call would take longer than {@link #CALIBRATION_CALL_NANOS} at the lowest time per image so
   * far is not tried, nor are sizes after two in a row that cost {@value #PAST_PEAK} times the
   * lowest per image or more. Call on the engine thread.
   */
  public void measureBestBatch(int maxBatch) {
    for (var entry : models.entrySet()) {
      String name = entry.getKey();
      ModelPackage pkg = entry.getValue().modelPackage();
      bestBatchByModel.remove(name);
      Map<Integer, Double> perImage = new LinkedHashMap<>();
      double lowest = Double.MAX_VALUE;
      int pastPeak = 0;
      for (int size : doublingUpTo(maxBatch)) {
        if (size > 1 && lowest * size > CALIBRATION_CALL_NANOS) {
          break;
        }
        double timing = timePerImage(name, pkg, size);
        perImage.put(size, timing);
        lowest = Math.min(lowest, timing);
        pastPeak = timing > PAST_PEAK * lowest ? pastPeak + 1 : 0;
        if (pastPeak == 2) {
          break;
        }
      }
      int best = bestBatchOf(perImage);
      bestBatchByModel.put(name, best);
      StringBuilder curve = new StringBuilder();
      perImage.forEach((size, nanos) -> curve.append(curve.length() == 0 ? "" : ", ")
          .append(size).append(": ").append(ms(nanos)));
      log.info("model {} on {}: calls of at most {} images (of max-batch {}); gradient pass ms "
          + "per image by batch: {}", name, deviceName, best, maxBatch, curve);
    }
  }

  /** 1, 2, 4, ... below {@code max}, then {@code max}. */
  private static List<Integer> doublingUpTo(int max) {
    List<Integer> sizes = new ArrayList<>();
    for (int size = 1; size < max; size *= 2) {
      sizes.add(size);
    }
    sizes.add(max);
    return sizes;
  }

  /**
   * The largest batch whose time per image is within {@value #BEST_BATCH_TOLERANCE} of the
   * lowest of {@code nanosPerImage} (by batch size): where the curve is flat, fewer and larger
   * calls cost the same and leave measurement noise no room to cut batches short.
   */
  static int bestBatchOf(Map<Integer, Double> nanosPerImage) {
    double lowest = nanosPerImage.values().stream().mapToDouble(Double::doubleValue).min()
        .orElseThrow();
    return nanosPerImage.entrySet().stream()
        .filter(e -> e.getValue() <= lowest * (1 + BEST_BATCH_TOLERANCE))
        .mapToInt(Map.Entry::getKey).max().orElseThrow();
  }

  /**
   * The time per image of a batch-{@code batch} gradient pass: the fastest of at least two
   * passes after a warm-up one, more (up to 7) while within about {@link
   * #CALIBRATION_MEASURE_NANOS} / 3 (other load on the machine only ever slows a pass down, so
   * the fastest is the least disturbed).
   */
  private double timePerImage(String name, ModelPackage pkg, int batch) {
    Pass pass = calibrationPass(pkg, batch);
    LoadedModel model = models.get(name);
    runCall(name, model, pass);
    List<Long> times = new ArrayList<>();
    long start = System.nanoTime();
    while (times.size() < 2 || (times.size() < 7
        && System.nanoTime() - start < CALIBRATION_MEASURE_NANOS / 3)) {
      long t = System.nanoTime();
      runCall(name, model, pass);
      times.add(System.nanoTime() - t);
    }
    return (double) Collections.min(times) / batch;
  }

  /**
   * One engine call; a gradient call of a model whose gradients oneDNN gets wrong runs without
   * oneDNN ({@link #checkOneDnnGradients}).
   */
  private PassResult runCall(String modelName, LoadedModel model, Pass pass) {
    if (pass.objective() != null && gradientsWithoutOneDnn.contains(modelName)) {
      return OneDnn.without(() -> call(modelName, model, pass));
    }
    return call(modelName, model, pass);
  }

  private PassResult call(String modelName, LoadedModel model, Pass pass) {
    int threads = threads(modelName, pass.size());
    if (threads > 0 && threads != currentThreads) {
      JniUtils.setNumThreads(threads);
      currentThreads = threads;
    }
    InputSpec spec = model.modelPackage().input();
    int n = pass.size();
    int size = spec.size();
    int classes = model.modelPackage().numClasses();
    float[] flat = new float[n * size];
    for (int i = 0; i < n; i++) {
      float[] image = pass.images().get(i);
      if (image.length != size) {
        throw new IllegalArgumentException(
            "image " + i + " has " + image.length + " values; model " + modelName + " needs " + size);
      }
      System.arraycopy(image, 0, flat, i * size, size);
    }
    boolean wantGradient = pass.objective() != null;
    boolean gradModeBefore = JniUtils.isGradMode();
    try (NDManager scope = manager.newSubManager()) {
      NDArray x = scope.create(flat, new Shape(n, spec.channels(), spec.height(), spec.width()));
      List<float[]> blurredRows = null;
      if (pass.extras().blurSigma() > 0) {
        blurredRows = rows(GaussianBlur.apply(x, pass.extras().blurSigma()).toFloatArray(), n, size);
      }
      Shape channelShape = new Shape(1, spec.channels(), 1, 1);
      NDArray mean = scope.create(spec.mean(), channelShape);
      NDArray std = scope.create(spec.std(), channelShape);
      // The walk records no gradient, so it runs before x asks for one.
      List<LayerWalk> walks = pass.extras().layerWalk()
          ? walk(modelName, model, x.sub(mean).div(std)) : null;
      if (wantGradient) {
        JniUtils.setGradMode(true);
        x.setRequiresGradient(true);
      }
      NDArray normalised = x.sub(mean).div(std);
      FeatureMaps featureMaps = null;
      NDArray logits;
      if (pass.extras().featureLayer()) {
        featureMaps = FeatureMaps.of(model, normalised, wantGradient);
        logits = featureMaps.logits();
      } else {
        logits = model.forward(normalised, wantGradient);
      }
      if (!logits.getShape().equals(new Shape(n, classes))) {
        throw new IllegalStateException(
            "model " + modelName + " returned shape " + logits.getShape() + " for a batch of " + n
                + "; expected (" + n + ", " + classes + ") — one score per label in labels file");
      }
      List<float[]> logitRows = rows(logits.toFloatArray(), n, classes);
      List<float[]> gradientRows = null;
      if (wantGradient) {
        // One weight matrix per output the rows use, zero on the other rows' outputs: the
        // objective is the sum over outputs of (output(logits) * its weights), and a row's
        // gradient comes from its own output's term only (softmax works row by row).
        Map<Pass.Output, float[]> weightsByOutput = new EnumMap<>(Pass.Output.class);
        for (int i = 0; i < n; i++) {
          float[] w = pass.objective().weightsFor(i, logitRows.get(i));
          if (w.length != classes) {
            throw new IllegalArgumentException("objective weights need " + classes + " values");
          }
          float[] weights = weightsByOutput.computeIfAbsent(pass.objective().outputOf(i),
              o -> new float[n * classes]);
          System.arraycopy(w, 0, weights, i * classes, classes);
        }
        NDArray objective = null;
        for (Map.Entry<Pass.Output, float[]> e : weightsByOutput.entrySet()) {
          NDArray outputs =
              switch (e.getKey()) {
                case LOGIT -> logits;
                case PROBABILITY -> logits.softmax(1);
                case LOG_PROBABILITY -> logits.logSoftmax(1);
              };
          NDArray term = outputs.mul(scope.create(e.getValue(), new Shape(n, classes))).sum();
          objective = objective == null ? term : objective.add(term);
        }
        JniUtils.backward((PtNDArray) objective, (PtNDArray) objective.onesLike(), false, false);
        if (featureMaps != null) {
          featureMaps.backwardToInput();
        }
        gradientRows = rows(x.getGradient().toFloatArray(), n, size);
      }
      PassResult result = featureMaps != null
          ? featureMaps.result(logitRows, gradientRows, blurredRows, n)
          : new PassResult(logitRows, gradientRows, blurredRows);
      return walks == null ? result : new PassResult(result.logits(), result.gradients(),
          result.blurred(), result.features(), result.featureGradients(), result.featureShape(),
          walks);
    } finally {
      JniUtils.setGradMode(gradModeBefore);
    }
  }

  /** Each image's walk through the layers of {@code model}, which must be walkable. */
  private static List<LayerWalk> walk(String modelName, LoadedModel model, NDArray normalised) {
    LayerWalker walker = model.walker();
    if (walker == null) {
      throw new IllegalArgumentException("model " + modelName + " cannot be walked layer by "
          + "layer: only builtin architectures with rules for all their layers, and TorchScript "
          + "models whose model.json declares their \"layers\", can");
    }
    return walker.walk(normalised);
  }

  /**
   * A forward pass split at the feature layer. With gradients, the head runs on a detached copy
   * of the features that is a leaf of its own graph, so the objective's backward pass stops there
   * and leaves the feature gradient; a second backward pass carries that gradient on through the
   * feature part to the input (the chain rule, done in two steps), so the input gradient is the
   * same as an unsplit pass's.
   */
  private record FeatureMaps(NDArray features, NDArray headInput, NDArray logits) {
    static FeatureMaps of(LoadedModel model, NDArray normalised, boolean wantGradient) {
      if (!model.hasFeatureLayer()) {
        throw new IllegalArgumentException("model " + model.modelPackage().name()
            + " has no feature layer: its model.json names none");
      }
      NDArray features = model.features(normalised, wantGradient);
      NDArray headInput = features;
      if (wantGradient) {
        headInput = features.stopGradient();
        headInput.setRequiresGradient(true);
      }
      return new FeatureMaps(features, headInput, model.head(headInput, wantGradient));
    }

    void backwardToInput() {
      JniUtils.backward((PtNDArray) features, (PtNDArray) headInput.getGradient(), false, false);
    }

    PassResult result(List<float[]> logitRows, List<float[]> gradientRows,
        List<float[]> blurredRows, int n) {
      long[] shape = features.getShape().getShape();
      long[] perImage = Arrays.copyOfRange(shape, 1, shape.length);
      int width = (int) (features.size() / n);
      List<float[]> featureRows = rows(features.toFloatArray(), n, width);
      List<float[]> featureGradientRows = gradientRows == null ? null
          : rows(headInput.getGradient().toFloatArray(), n, width);
      return new PassResult(logitRows, gradientRows, blurredRows, featureRows,
          featureGradientRows, perImage);
    }
  }

  /** Whether a pass of {@code images} images on {@code modelName} runs channels-last. */
  boolean runsChannelsLast(String modelName, int images) {
    return models.get(modelName) instanceof BuiltinModel builtin
        && builtin.runsChannelsLast(images);
  }

  /** Native arrays the engine holds now (model weights included); passes must leave none. */
  int liveArrays() {
    return manager.getManagedArrays().size();
  }

  private static List<float[]> rows(float[] flat, int n, int width) {
    List<float[]> rows = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      float[] row = new float[width];
      System.arraycopy(flat, i * width, row, 0, width);
      rows.add(row);
    }
    return rows;
  }

  @Override
  public void close() {
    models.values().forEach(LoadedModel::close);
    manager.close();
  }
}
