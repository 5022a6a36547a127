package dev.salient.server.method;

import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.Curve;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Integrated Gradients (seed 004, section 2.1; Sundararajan et al. 2017): the attribution of
 * pixel {@code i} is {@code (x_i - x'_i) * integral_0^1 dF(x' + a (x - x'))/dx_i da} along the
 * straight path from a baseline {@code x'} to the image {@code x}, so the attributions add up to
 * {@code F(x) - F(x')} (completeness). The integral is a Riemann sum over {@code steps} points
 * whose images are batched into passes of {@code batch}; each pass streams a frame with the
 * running attribution.
 *
 * <p>Rules: {@code left} (a = k/m, k = 0..m-1), {@code right} (k = 1..m), {@code midpoint}
 * ({@code (k + 1/2)/m}) and {@code trapezoid} (k = 0..m, end points weighted 1/2). The default
 * is the one with the smallest completeness error on Fashion-MNIST training images at 64 steps
 * (docs/methods/gradients.md). Weights and sums are accumulated in double; {@code F} at the
 * baseline is always evaluated (a zero-weight row where the rule does not sample a = 0), and
 * {@code F(x)} is the job's first pass. The result reports {@code completeness_error = |sum of
 * attributions - (F(x) - F(x'))| / |F(x) - F(x')|}.
 *
 * <p>Baselines: {@code black} (every pixel at the input range's minimum, the paper's default),
 * {@code white} (the maximum), {@code blurred} (the image low-pass filtered with a Gaussian of
 * {@code blur_sigma} pixels on the engine, Sturmfels et al. 2020) or {@code image} (the encoded
 * image in {@code baseline_image}, base64, decoded and resized like the request's image).
 */
public final class IntegratedGradients implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("completeness_error", ValueType.NUMBER,
          "|sum of attributions - (F(x) - F(baseline))| relative to |F(x) - F(baseline)| "
          + "(absolute when that is 0): completeness, Sundararajan et al. prop. 1")
      .value("completeness_abs_error", ValueType.NUMBER, "the same error, absolute")
      .value("attribution_sum", ValueType.NUMBER, "the sum of the attributions")
      .value("output_input", ValueType.NUMBER,
          "F(x): the explained output (logit or probability, by the output parameter) at the "
          + "image")
      .value("output_baseline", ValueType.NUMBER,
          "F(baseline): the explained output at the baseline")
      .value("steps", ValueType.COUNT, "the quadrature points along the path")
      .map("attribution", MapShape.PIXELS, ColourScale.DIVERGING,
          "the attributions summed over channels")
      .map("attribution_channels", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the attributions per channel",
          "colour models only (C > 1)")
      .build();

  /** Where the path starts. */
  public enum Baseline {
    /** Every pixel at the pixel range's minimum. */
    BLACK,
    /** Every pixel at the pixel range's maximum. */
    WHITE,
    /** The image, Gaussian-blurred. */
    BLURRED,
    /** An image given with the request. */
    IMAGE
  }

  /** How the path integral becomes a sum. */
  public enum Rule {
    /** Left Riemann sum: a = k/m, k = 0..m-1. */
    LEFT,
    /** Right Riemann sum: a = k/m, k = 1..m. */
    RIGHT,
    /** Midpoint sum: a = (k + 1/2)/m, k = 0..m-1. */
    MIDPOINT,
    /** Trapezoid rule: a = k/m, k = 0..m, end points weighted 1/2. */
    TRAPEZOID
  }

  static final Parameter<Baseline> BASELINE = Parameter.choice("baseline",
      "path start: black, white, blurred or image", Baseline.BLACK);
  static final Parameter<byte[]> BASELINE_IMAGE = Parameter.text("baseline_image",
      "with baseline=image: the baseline as an encoded image (PNG, JPEG, BMP or GIF)",
      new byte[0], "an image file's bytes in base64",
      text -> Base64.getDecoder().decode(text.trim()), bytes -> Base64.getEncoder()
          .encodeToString(bytes));
  static final Parameter<Double> BLUR_SIGMA = Parameter.number("blur_sigma",
      "with baseline=blurred: Gaussian standard deviation in pixels", 4, 0.5, 64);
  static final Parameter<Integer> STEPS = Parameter.integer("steps",
      "Riemann sum points m", 64, 1, 4096);
  static final Parameter<Rule> RULE = Parameter.choice("rule",
      "Riemann rule: left, right, midpoint or trapezoid (m + 1 points)", Rule.MIDPOINT);
  static final Parameter<Integer> BATCH = Parameter.integer("batch",
      "path points per engine pass, one frame each", 16, 1, 256);
  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is integrated: logit, probability or log_probability", Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS =
      List.of(BASELINE, BASELINE_IMAGE, BLUR_SIGMA, STEPS, RULE, BATCH, OUTPUT);

  /** Parameters of an Integrated Gradients request. */
  public record Parameters(Baseline baseline, byte[] baselineImage, double blurSigma, int steps,
      Rule rule, int batch, Pass.Output output) {
    static Parameters of(MethodParameters p) {
      Baseline baseline = p.get(BASELINE);
      byte[] image = p.get(BASELINE_IMAGE);
      if (baseline == Baseline.IMAGE && image.length == 0) {
        throw new SalientException.InvalidArgument("method " + NAME + ": baseline=image needs "
            + "baseline_image, the baseline image file's bytes in base64");
      }
      if (baseline != Baseline.IMAGE && image.length > 0) {
        throw new SalientException.InvalidArgument("method " + NAME + ": baseline_image is "
            + "used only with baseline=image, not baseline=" + BASELINE.format(baseline));
      }
      return new Parameters(baseline, baseline == Baseline.IMAGE ? image : null,
          p.get(BLUR_SIGMA), p.get(STEPS), p.get(RULE), p.get(BATCH), p.get(OUTPUT));
    }

    /** The parameters in effect as the started event lists them: only those that apply. */
    Map<String, String> effective(MethodParameters p) {
      Map<String, String> m = p.effective();
      if (baseline == Baseline.IMAGE) {
        m.put(BASELINE_IMAGE.name(), "(" + baselineImage.length + " bytes)");
      } else {
        m.remove(BASELINE_IMAGE.name());
      }
      if (baseline != Baseline.BLURRED) {
        m.remove(BLUR_SIGMA.name());
      }
      return m;
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "integrated_gradients";

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
    return new BatchTolerance(1e-5, 1e-4, Set.of("steps"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Gradients integrated along the path from a baseline to the image (Sundararajan et "
        + "al.); reports the completeness error";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(parameters.effective(p), context -> new Run(context, parameters));
  }

  /**
   * The quadrature: path positions and their weights, ascending, always starting at a = 0; with
   * {@code extraBaselineRow} that first row has weight 0 (the rule does not sample a = 0).
   */
  record Quadrature(double[] alphas, double[] weights, boolean extraBaselineRow) {
    static Quadrature of(Rule rule, int m) {
      int n = rule == Rule.TRAPEZOID ? m + 1 : m;
      boolean startsAtZero = rule == Rule.LEFT || rule == Rule.TRAPEZOID;
      int offset = startsAtZero ? 0 : 1;
      double[] alphas = new double[n + offset];
      double[] weights = new double[n + offset];
      // a = 0 with weight 0 where the rule does not sample it: F at the baseline.
      for (int k = 0; k < n; k++) {
        double a =
            switch (rule) {
              case LEFT, TRAPEZOID -> (double) k / m;
              case RIGHT -> (double) (k + 1) / m;
              case MIDPOINT -> (k + 0.5) / m;
            };
        double w = rule == Rule.TRAPEZOID && (k == 0 || k == m) ? 0.5 / m : 1.0 / m;
        alphas[k + offset] = a;
        weights[k + offset] = w;
      }
      return new Quadrature(alphas, weights, offset == 1);
    }

    int size() {
      return alphas.length;
    }
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final Quadrature quadrature;
    private final double[] integral;
    private final double[] pathOutput;
    private float[] baseline;
    private float[] difference;
    private int done;
    private int step;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      InputSpec spec = context.model().input();
      this.quadrature = Quadrature.of(parameters.rule(), parameters.steps());
      this.integral = new double[spec.size()];
      this.pathOutput = new double[quadrature.size()];
      switch (parameters.baseline()) {
        case BLACK -> setBaseline(filled(spec.size(), spec.pixelMin()));
        case WHITE -> setBaseline(filled(spec.size(), spec.pixelMax()));
        case IMAGE -> setBaseline(
            ImageDecoder.decode(parameters.baselineImage(), spec, context.decodeBudget()));
        case BLURRED -> { } // from the first pass
      }
    }

    private void setBaseline(float[] b) {
      baseline = b;
      float[] x = context.image();
      difference = new float[x.length];
      for (int i = 0; i < x.length; i++) {
        difference[i] = x[i] - b[i];
      }
    }

    @Override
    public Pass nextPass() {
      if (baseline == null) {
        return Pass.forward(List.of(context.image()))
            .with(new Pass.Extras((float) parameters.blurSigma()));
      }
      if (done >= quadrature.size()) {
        return null;
      }
      // The extra baseline row rides along with the first batch rather than taking a pass.
      int batch = parameters.batch() + (done == 0 && quadrature.extraBaselineRow() ? 1 : 0);
      int n = Math.min(batch, quadrature.size() - done);
      List<float[]> images = new ArrayList<>(n);
      int[] targets = new int[n];
      for (int j = 0; j < n; j++) {
        images.add(pathImage(quadrature.alphas()[done + j]));
        targets[j] = context.target();
      }
      return Pass.gradient(images, parameters.output(), targets, context.model().numClasses());
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      if (baseline == null) {
        setBaseline(result.blurred().get(0));
        return List.of();
      }
      int n = result.logits().size();
      for (int j = 0; j < n; j++) {
        double w = quadrature.weights()[done + j];
        pathOutput[done + j] = output(result.logits().get(j));
        float[] g = result.gradients().get(j);
        for (int i = 0; i < g.length; i++) {
          integral[i] += w * g[i];
        }
      }
      done += n;
      step++;
      InputSpec spec = context.model().input();
      double[] attribution = new double[integral.length];
      double attributionSum = 0;
      for (int i = 0; i < integral.length; i++) {
        attribution[i] = difference[i] * integral[i];
        attributionSum += attribution[i];
      }
      float[] map = GradientMaps.sumOverChannels(attribution, spec.channels());
      float[] lastLogits = result.logits().get(n - 1);
      float lastProbability = context.score(lastLogits, context.target()).probability();
      double baselineOutput = pathOutput[0];

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("alpha", quadrature.alphas()[done - 1]);
      frameValues.put("points_done", (double) done);
      frameValues.put("path_output", pathOutput[done - 1]);
      // Along the path, the partial sum approximates F(path point) - F(baseline).
      frameValues.put("partial_attribution_sum", attributionSum);
      frameValues.put("path_output_change", pathOutput[done - 1] - baselineOutput);
      List<ExplainEvent> events = new ArrayList<>();
      events.add(new ExplainEvent.Frame(step, "path", lastProbability, context.top(lastLogits),
          frameValues,
          context.frames().tensors()
              ? GradientMaps.channelMap(spec, pathImage(quadrature.alphas()[done - 1])) : null,
          context.frames().tensors() ? GradientMaps.pixelMap(spec, map) : null,
          1 + passesSoFar()));
      if (done < quadrature.size()) {
        return events;
      }
      double inputOutput = output(context.logits());
      double change = inputOutput - baselineOutput;
      double absError = Math.abs(attributionSum - change);
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) context.probabilities()[context.target()]);
      // With F(x) = F(x') the relative error is undefined; the absolute error stands in for it.
      values.put("completeness_error", change == 0 ? absError : absError / Math.abs(change));
      values.put("completeness_abs_error", absError);
      values.put("attribution_sum", attributionSum);
      values.put("output_input", inputOutput);
      values.put("output_baseline", baselineOutput);
      values.put("steps", (double) parameters.steps());
      List<SaliencyMap> maps = new ArrayList<>();
      maps.add(new SaliencyMap("attribution", GradientMaps.pixelMap(spec, map),
          ColourScale.DIVERGING));
      if (spec.channels() > 1) {
        maps.add(new SaliencyMap("attribution_channels",
            GradientMaps.channelMap(spec, GradientMaps.toFloats(attribution)),
            ColourScale.DIVERGING));
      }
      List<Curve> curves = List.of(new Curve("path_output", "alpha",
          parameters.output().name().toLowerCase(Locale.ROOT) + " of the target",
          quadrature.alphas().clone(), pathOutput.clone()));
      events.add(new ExplainEvent.Result(maps, values, curves, List.of(), step,
          1 + passesSoFar(), 0));
      return events;
    }

    private int passesSoFar() {
      return done + (parameters.baseline() == Baseline.BLURRED ? 1 : 0);
    }

    private float[] pathImage(double a) {
      float[] point = new float[baseline.length];
      for (int i = 0; i < point.length; i++) {
        point[i] = (float) (baseline[i] + a * difference[i]);
      }
      return point;
    }

    /** F: the objective's value for the target, from one image's logits. */
    private double output(float[] logits) {
      int t = context.target();
      if (parameters.output() == Pass.Output.LOGIT) {
        return logits[t];
      }
      double max = Double.NEGATIVE_INFINITY;
      for (float z : logits) {
        max = Math.max(max, z);
      }
      double sum = 0;
      for (float z : logits) {
        sum += Math.exp(z - max);
      }
      double logProbability = logits[t] - max - Math.log(sum);
      return parameters.output() == Pass.Output.LOG_PROBABILITY
          ? logProbability : Math.exp(logProbability);
    }

    private static float[] filled(int n, float value) {
      float[] a = new float[n];
      Arrays.fill(a, value);
      return a;
    }
  }
}
