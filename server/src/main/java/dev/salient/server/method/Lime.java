package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * LIME for images (seed 002, "LIME"; Ribeiro, Singh and Guestrin 2016): the image is cut into
 * {@link Slic} superpixels; each sample switches every superpixel off with probability {@code
 * off_probability} (seeded; sample 0 is the image itself, as in the lime package), the switched-off
 * ones replaced by a {@link DeletionFill}; the model's probability of the target on each sample is
 * fitted by a {@link WeightedRidge} on the on/off vector z, weighted by the kernel {@code
 * sqrt(exp(-d^2 / width^2))} of the cosine distance d between z and the all-on vector (the lime
 * package's image defaults: width 0.25, ridge penalty 1; d = 1 when every superpixel is off).
 *
 * <p>A superpixel's coefficient is its evidence: positive for the class, negative against. The
 * result has the coefficients as a per-pixel map ({@code lime}), its positive and negative parts,
 * the superpixel labels, and among its values the coefficients ({@code weight_<label>}), the
 * intercept and the fit's weighted R². Forward passes only; samples go to the engine {@code
 * batch} at a time, a frame per pass with the running fit. The samples are drawn in order from
 * the seed, and the superpixels depend only on the image, so batching never changes the result.
 */
public final class Lime implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("samples", ValueType.COUNT, "the perturbed samples fitted")
      .value("superpixels", ValueType.COUNT, "the superpixels (SLIC segments)")
      .value("superpixel_size", ValueType.COUNT, "the superpixels' nominal side, in pixels")
      .value("r2", ValueType.NUMBER, "the weighted R² of the linear fit")
      .value("intercept", ValueType.NUMBER, "the fit's intercept")
      .value("local_prediction", ValueType.NUMBER,
          "the fit's prediction with every superpixel on")
      .value("strongest_superpixel", ValueType.COUNT, "the superpixel with the largest |weight|")
      .value("weight_<superpixel>", ValueType.NUMBER,
          "the fit's coefficient of that superpixel",
          "one per superpixel")
      .map("lime", MapShape.PIXELS, ColourScale.DIVERGING, "each pixel's superpixel coefficient")
      .map("evidence_for", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "the positive part of the lime map")
      .map("evidence_against", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "the negative part, as positive numbers")
      .map("superpixels", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "each pixel's superpixel index")
      .build();

  static final Parameter<Integer> SAMPLES = Parameter.integer("samples",
      "number of samples, the image itself included", 1000, 2, 100_000);
  static final Parameter<Integer> SUPERPIXEL_SIZE = Parameter.integer("superpixel_size",
      "SLIC grid interval in pixels (superpixels of about this side); 0: an eighth of the "
          + "shorter side, at least 2 (4 on 28 x 28: 49 superpixels)", 0, 0, 4096);
  static final Parameter<Double> COMPACTNESS = Parameter.number("compactness",
      "SLIC's m: position against colour (colour on [0, 100]); larger, squarer superpixels",
      10, 0.01, 10_000);
  static final Parameter<DeletionFill> FILL = Parameter.choice("fill",
      "what replaces a switched-off superpixel: black, white, grey, mean (its own mean, the lime "
          + "package's default), blur or inverse (min + max - x, seed 002)", DeletionFill.MEAN);
  static final Parameter<Double> BLUR_SIGMA = Parameter.number("blur_sigma",
      "with fill=blur: Gaussian standard deviation in pixels", 4, 0.5, 64);
  static final Parameter<Double> OFF_PROBABILITY = Parameter.number("off_probability",
      "chance that a sample switches a superpixel off", 0.5, 0.01, 1);
  static final Parameter<Double> KERNEL_WIDTH = Parameter.number("kernel_width",
      "width of the kernel on the cosine distance to the image", 0.25, 0.001, 100);
  static final Parameter<Double> RIDGE = Parameter.number("ridge",
      "ridge penalty lambda on the coefficients (the intercept is not penalised)", 1, 0, 1e6);
  static final Parameter<Integer> BATCH = Parameter.integer("batch",
      "samples per engine pass, one frame each", 50, 1, 1024);
  static final Parameter<Integer> SEED = Parameter.integer("seed",
      "seed of the on/off draws", 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
  static final List<Parameter<?>> PARAMETERS = List.of(SAMPLES, SUPERPIXEL_SIZE, COMPACTNESS,
      FILL, BLUR_SIGMA, OFF_PROBABILITY, KERNEL_WIDTH, RIDGE, BATCH, SEED);

  /** Parameters of a LIME request. */
  public record Parameters(int samples, int superpixelSize, double compactness,
      DeletionFill fill, double blurSigma, double offProbability, double kernelWidth,
      double ridge, int batch, long seed) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(SAMPLES), p.get(SUPERPIXEL_SIZE), p.get(COMPACTNESS),
          p.get(FILL), p.get(BLUR_SIGMA), p.get(OFF_PROBABILITY), p.get(KERNEL_WIDTH),
          p.get(RIDGE), p.get(BATCH), p.get(SEED));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "lime";

  @Override
  public String name() {
    return NAME;
  }

  /**
   * Its samples (or patch positions) and superpixels depend only on the image, the parameters
   * and the seed; only the probabilities carry the engine's rounding.
   */
  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-4, 1e-4,
        Set.of("samples", "superpixels", "superpixel_size", "strongest_superpixel"),
        Set.of("superpixels"));
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Weighted linear fit of the target's probability on superpixels switched on and off "
        + "(LIME, Ribeiro et al.): evidence for and against; forward passes only";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  /** The SLIC interval used on an image of {@code height} x {@code width}. */
  static int superpixelSize(int requested, int height, int width) {
    return requested > 0 ? requested : Math.max(2, Math.round(Math.min(height, width) / 8f));
  }

  /** The lime package's kernel on the cosine distance of {@code z} to the all-on vector. */
  static double kernel(boolean[] on, double width) {
    int k = 0;
    for (boolean b : on) {
      k += b ? 1 : 0;
    }
    double distance = k == 0 ? 1 : 1 - Math.sqrt((double) k / on.length);
    return Math.sqrt(Math.exp(-distance * distance / (width * width)));
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final InputSpec spec;
    private final Slic.Segmentation superpixels;
    private final int size;
    private final Random draws;
    private final WeightedRidge ridge;
    private final List<boolean[]> pendingSamples = new ArrayList<>();
    private float[] blurred;
    private float[] deleted;
    private Pass pending;
    private int done;
    private int step;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      this.size = superpixelSize(parameters.superpixelSize(), spec.height(), spec.width());
      this.superpixels = Slic.segment(context.image(), spec.channels(), spec.height(),
          spec.width(), size, parameters.compactness(), spec.pixelMin(), spec.pixelMax());
      this.draws = new Random(parameters.seed());
      this.ridge = new WeightedRidge(superpixels.count());
      if (parameters.fill() != DeletionFill.BLUR) {
        deleted = deletedImage();
      }
    }

    private float[] deletedImage() {
      return parameters.fill().deleteRegions(context.image(), spec.channels(),
          superpixels.labels(), superpixels.count(), spec.pixelMin(), spec.pixelMax(), blurred);
    }

    @Override
    public Pass nextPass() {
      if (deleted == null) {
        return Pass.forward(List.of(context.image()))
            .with(new Pass.Extras((float) parameters.blurSigma()));
      }
      if (done >= parameters.samples()) {
        return null;
      }
      if (pending == null) {
        int n = Math.min(parameters.batch(), parameters.samples() - done);
        List<float[]> images = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          boolean[] on = draw(done + i);
          pendingSamples.add(on);
          images.add(sampleImage(on));
        }
        pending = Pass.forward(images);
      }
      return pending;
    }

    /** Sample {@code index}'s on/off vector: all on for the first, then from the seed in order. */
    private boolean[] draw(int index) {
      boolean[] on = new boolean[superpixels.count()];
      for (int j = 0; j < on.length; j++) {
        on[j] = index == 0 || draws.nextDouble() >= parameters.offProbability();
      }
      return on;
    }

    private float[] sampleImage(boolean[] on) {
      float[] image = context.image().clone();
      int[] labels = superpixels.labels();
      int plane = labels.length;
      for (int c = 0; c < spec.channels(); c++) {
        for (int p = 0; p < plane; p++) {
          if (!on[labels[p]]) {
            image[c * plane + p] = deleted[c * plane + p];
          }
        }
      }
      return image;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      if (deleted == null) {
        blurred = result.blurred().get(0);
        deleted = deletedImage();
        return List.of();
      }
      int n = result.logits().size();
      double batchProbability = 0;
      double[] z = new double[superpixels.count()];
      for (int i = 0; i < n; i++) {
        boolean[] on = pendingSamples.get(i);
        for (int j = 0; j < z.length; j++) {
          z[j] = on[j] ? 1 : 0;
        }
        double p = result.probabilities(i)[context.target()];
        batchProbability += p;
        ridge.add(z, p, kernel(on, parameters.kernelWidth()));
      }
      pendingSamples.clear();
      pending = null;
      done += n;
      step++;
      WeightedRidge.Fit fit = ridge.fit(parameters.ridge());
      float[] map = pixelWeights(fit.coefficients());
      FloatTensor mapTensor = GradientMaps.pixelMap(spec, map);
      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("samples_done", (double) done);
      frameValues.put("r2", fit.r2());
      frameValues.put("intercept", fit.intercept());
      List<ExplainEvent> events = new ArrayList<>();
      // The frame's probability: the mean over this pass's samples.
      events.add(new ExplainEvent.Frame(step, "samples", (float) (batchProbability / n),
          context.top(result.logits().get(n - 1)), frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? mapTensor : null, passesSoFar()));
      if (done < parameters.samples()) {
        return events;
      }
      events.add(result(fit, map, mapTensor));
      return events;
    }

    private ExplainEvent.Result result(WeightedRidge.Fit fit, float[] map, FloatTensor mapTensor) {
      double[] b = fit.coefficients();
      double[] allOn = new double[b.length];
      Arrays.fill(allOn, 1);
      int strongest = 0;
      for (int j = 1; j < b.length; j++) {
        if (b[j] > b[strongest]) {
          strongest = j;
        }
      }
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) context.probabilities()[context.target()]);
      values.put("samples", (double) done);
      values.put("superpixels", (double) superpixels.count());
      values.put("superpixel_size", (double) size);
      values.put("r2", fit.r2());
      values.put("intercept", fit.intercept());
      values.put("local_prediction", fit.predict(allOn));
      values.put("strongest_superpixel", (double) strongest);
      for (int j = 0; j < b.length; j++) {
        values.put("weight_" + j, b[j]);
      }
      float[] evidenceFor = new float[map.length];
      float[] evidenceAgainst = new float[map.length];
      float[] labels = new float[map.length];
      for (int p = 0; p < map.length; p++) {
        evidenceFor[p] = Math.max(map[p], 0f);
        evidenceAgainst[p] = Math.max(-map[p], 0f);
        labels[p] = superpixels.labels()[p];
      }
      return new ExplainEvent.Result(List.of(
          new SaliencyMap("lime", mapTensor, ColourScale.DIVERGING),
          new SaliencyMap("evidence_for", GradientMaps.pixelMap(spec, evidenceFor),
              ColourScale.SEQUENTIAL),
          new SaliencyMap("evidence_against", GradientMaps.pixelMap(spec, evidenceAgainst),
              ColourScale.SEQUENTIAL),
          new SaliencyMap("superpixels", GradientMaps.pixelMap(spec, labels),
              ColourScale.SEQUENTIAL)),
          values, List.of(), List.of(), step, passesSoFar(), 0);
    }

    /** Each pixel's superpixel's coefficient. */
    private float[] pixelWeights(double[] coefficients) {
      int[] labels = superpixels.labels();
      float[] map = new float[labels.length];
      for (int p = 0; p < labels.length; p++) {
        map[p] = (float) coefficients[labels[p]];
      }
      return map;
    }

    private int passesSoFar() {
      return 1 + (parameters.fill() == DeletionFill.BLUR ? 1 : 0) + done;
    }
  }
}
