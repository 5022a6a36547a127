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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * SmoothGrad (seed 004, section 2.1, eq. 1-2; Smilkov et al. 2017): the mean input gradient over
 * {@code n} copies of the image with independent Gaussian noise {@code N(0, sigma^2)} added to
 * every pixel, {@code sigma = noise * (pixel_max - pixel_min)} (the paper's noise level). The mean
 * gradient is reduced over channels like the vanilla map ({@code reduction}).
 *
 * <p>The same samples also give, at no extra pass, SmoothGrad-Squared (the mean of the squared
 * gradient, Hooker et al. 2019) and VarGrad (the variance of the gradient, Adebayo et al. 2018),
 * each reduced by the max over channels. Sums run in double (Welford's update for the variance).
 * Noisy images are not clipped to the pixel range: the paper adds the noise as it is, and the
 * model accepts any value. The noise comes from a seeded generator, so a request is repeatable.
 * The samples go to the engine in passes of {@code batch} images, one frame per pass with the
 * running mean.
 */
public final class SmoothGrad implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("samples", ValueType.COUNT, "the noisy copies averaged")
      .value("sigma", ValueType.NUMBER, "the noise's standard deviation, in pixel units")
      .value("relative_change", ValueType.NUMBER,
          "how much the map changed with the last sample, relative to its norm (1 after one "
          + "sample)")
      .value("mean_gradient_l2", ValueType.NUMBER, "the L2 norm of the mean gradient")
      .map("smoothgrad", MapShape.PIXELS_OR_CHANNELS, null,
          "the mean gradient over the noisy copies, reduced over channels as the reduction "
          + "parameter says")
      .map("smoothgrad_squared", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "SmoothGrad-Squared: the mean squared gradient, max over channels")
      .map("vargrad", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "VarGrad: the gradient's variance over the copies, max over channels")
      .map("mean_gradient", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the mean gradient, per channel")
      .build();

  static final Parameter<Integer> SAMPLES = Parameter.integer("samples",
      "number of noisy samples n", 50, 1, 4096);
  static final Parameter<Double> NOISE = Parameter.number("noise",
      "noise level: sigma as a fraction of the input range (the paper finds 10-20 % best)", 0.15,
      0, 1);
  static final Parameter<Integer> BATCH = Parameter.integer("batch",
      "samples per engine pass, one frame each", 10, 1, 256);
  static final Parameter<Integer> SEED = Parameter.integer("seed",
      "seed of the noise generator", 0, Integer.MIN_VALUE, Integer.MAX_VALUE);
  static final Parameter<ChannelReduction> REDUCTION = Parameter.choice("reduction",
      "channel reduction of the mean gradient: max_abs, mean or signed (as vanilla)",
      ChannelReduction.MAX_ABS);
  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is differentiated: logit, probability or log_probability", Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS =
      List.of(SAMPLES, NOISE, BATCH, SEED, REDUCTION, OUTPUT);

  /** Samples per frame of a live video unless the client sets them: one pass a frame. */
  static final int VIDEO_SAMPLES = 8;

  /** Parameters of a SmoothGrad request. */
  public record Parameters(int samples, double noise, int batch, long seed,
      ChannelReduction reduction, Pass.Output output) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(SAMPLES), p.get(NOISE), p.get(BATCH), p.get(SEED),
          p.get(REDUCTION), p.get(OUTPUT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "smoothgrad";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-5, 1e-5, Set.of("samples"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Mean gradient over noisy copies of the image (Smilkov et al.), with the squared and "
        + "variance (VarGrad) variants";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public boolean explainsVideo() {
    return true;
  }

  /** A frame's samples, unless the client sets them, all in one pass: one engine call a frame. */
  @Override
  public Map<String, String> videoParameters(Map<String, String> requested) {
    if (requested.containsKey(SAMPLES.name())) {
      return requested;
    }
    Map<String, String> frame = new HashMap<>(requested);
    frame.put(SAMPLES.name(), Integer.toString(VIDEO_SAMPLES));
    frame.putIfAbsent(BATCH.name(), Integer.toString(VIDEO_SAMPLES));
    return frame;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final Random noise;
    private final double sigma;
    private final double[] mean;
    private final double[] m2;
    private int done;
    private int step;
    private Pass pending;
    private float[] previousMap;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      InputSpec spec = context.model().input();
      this.noise = new Random(parameters.seed());
      this.sigma = parameters.noise() * (spec.pixelMax() - spec.pixelMin());
      this.mean = new double[spec.size()];
      this.m2 = new double[spec.size()];
    }

    @Override
    public Pass nextPass() {
      if (done >= parameters.samples()) {
        return null;
      }
      if (pending == null) {
        int n = Math.min(parameters.batch(), parameters.samples() - done);
        float[] image = context.image();
        List<float[]> images = new ArrayList<>(n);
        int[] targets = new int[n];
        for (int i = 0; i < n; i++) {
          float[] noisy = new float[image.length];
          for (int p = 0; p < image.length; p++) {
            noisy[p] = (float) (image[p] + sigma * noise.nextGaussian());
          }
          images.add(noisy);
          targets[i] = context.target();
        }
        pending = Pass.gradient(images, parameters.output(), targets,
            context.model().numClasses());
      }
      return pending;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      pending = null;
      for (float[] g : result.gradients()) {
        done++;
        // Welford: exact for identical samples, stable for many.
        for (int p = 0; p < g.length; p++) {
          double delta = g[p] - mean[p];
          mean[p] += delta / done;
          m2[p] += delta * (g[p] - mean[p]);
        }
      }
      step++;
      InputSpec spec = context.model().input();
      float[] meanGradient = GradientMaps.toFloats(mean);
      float[] map = parameters.reduction().apply(meanGradient, spec.channels());
      FloatTensor mapTensor = parameters.reduction() == ChannelReduction.SIGNED
          ? GradientMaps.channelMap(spec, map) : GradientMaps.pixelMap(spec, map);
      double change = previousMap == null ? 1.0
          : GradientMaps.l2(GradientMaps.difference(map, previousMap))
              / Math.max(GradientMaps.l2(map), Double.MIN_NORMAL);
      previousMap = map;
      float[] logits = result.logits().get(0);
      float noisyProbability = meanProbability(result);

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("samples_done", (double) done);
      frameValues.put("sigma", sigma);
      frameValues.put("relative_change", change);
      frameValues.put("noisy_target_probability", (double) noisyProbability);
      List<ExplainEvent> events = new ArrayList<>();
      events.add(new ExplainEvent.Frame(step, "samples", noisyProbability, context.top(logits),
          frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? mapTensor : null, 1 + done));
      if (done < parameters.samples()) {
        return events;
      }
      float[] squared = new float[mean.length];
      float[] variance = new float[mean.length];
      for (int p = 0; p < mean.length; p++) {
        variance[p] = (float) (m2[p] / done);
        squared[p] = (float) (m2[p] / done + mean[p] * mean[p]);
      }
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) context.probabilities()[context.target()]);
      values.put("samples", (double) done);
      values.put("sigma", sigma);
      values.put("relative_change", change);
      values.put("mean_gradient_l2", GradientMaps.l2(meanGradient));
      ColourScale scale = parameters.reduction() == ChannelReduction.MAX_ABS
          ? ColourScale.SEQUENTIAL : ColourScale.DIVERGING;
      events.add(new ExplainEvent.Result(
          List.of(new SaliencyMap("smoothgrad", mapTensor, scale),
              new SaliencyMap("smoothgrad_squared", GradientMaps.pixelMap(spec,
                  GradientMaps.maxOverChannels(squared, spec.channels())), ColourScale.SEQUENTIAL),
              new SaliencyMap("vargrad", GradientMaps.pixelMap(spec,
                  GradientMaps.maxOverChannels(variance, spec.channels())), ColourScale.SEQUENTIAL),
              new SaliencyMap("mean_gradient", GradientMaps.channelMap(spec, meanGradient),
                  ColourScale.DIVERGING)),
          values, List.of(), List.of(), step, 1 + done, 0));
      return events;
    }

    private float meanProbability(PassResult result) {
      double p = 0;
      for (int i = 0; i < result.logits().size(); i++) {
        p += result.probabilities(i)[context.target()];
      }
      return (float) (p / result.logits().size());
    }
  }
}
