package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
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
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Rectified Gradient (Kim et al. 2019, seed 003 eq. 1-2) and its no-bias modification (seed 003,
 * section II). The gradient of the target's logit is carried back layer by layer as usual,
 * except at each ReLU: an entry passes only where the unit is active and its importance
 * {@code a * R} (activation times the gradient arriving there) is at least the layer's
 * {@code q}-th percentile {@code tau} of importances. {@code rectgrad}'s map is the input times
 * the gradient that reaches it (eq. 2); {@code rectgrad_nobias} leaves that multiplication out
 * ({@code M = R_0}), which seed 003 shows removes the bias against dark (zero) pixels.
 *
 * <p>Choices where the papers leave them: {@code tau} is the lower nearest-rank percentile over
 * all units of the layer (active or not) for this image; "at least" rather than the paper's
 * "above", so that {@code q = 0} keeps every active unit and gives the plain gradient (and
 * {@code rectgrad} gradient times input) exactly. The input is the image in the model's pixel
 * space ({@code [pixel_min, pixel_max]}), the gradient is taken with respect to it.
 */
public final class RectifiedGradient implements ExplanationMethod {

  /** {@code rectgrad}'s name in requests. */
  public static final String NAME = "rectgrad";
  /** The no-bias variant's name in requests. */
  public static final String NOBIAS_NAME = "rectgrad_nobias";

  static final Parameter<Double> PERCENTILE = Parameter.number("q",
      "percentile of importance (activation x gradient) below which a ReLU layer's entries are "
          + "cut, per layer; 0 keeps every active unit (the plain gradient), the paper uses 98",
      98, 0, 100);
  static final List<Parameter<?>> PARAMETERS = List.of(PERCENTILE);

  private final boolean timesInput;
  private final ResultSchema result;

  private RectifiedGradient(boolean timesInput) {
    this.timesInput = timesInput;
    this.result = ResultSchema.builder()
        .value("target_probability", ValueType.PROBABILITY,
            "the model's probability of the target class at the image")
        .value("target_logit", ValueType.NUMBER, "the target class's logit at the image")
        .value("q", ValueType.NUMBER, "the percentile the thresholds were taken at")
        .value("threshold_layer_<n>", ValueType.NUMBER,
            "the importance threshold tau of ReLU layer n", "one per ReLU layer")
        .value("kept_fraction_layer_<n>", ValueType.FRACTION,
            "the share of ReLU layer n's active units whose gradient passed", "one per ReLU layer")
        .value("relu_layers", ValueType.COUNT, "the ReLU layers the gradient was rectified at")
        .value("map_nonzero_fraction", ValueType.FRACTION,
            "the share of non-zero pixels of the map")
        .value("map_max_abs", ValueType.NUMBER, "the largest |value| of the map")
        .map(timesInput ? NAME : NOBIAS_NAME, MapShape.PIXELS, ColourScale.DIVERGING,
            timesInput ? "the input times the rectified gradient, summed over channels"
                : "the rectified gradient, summed over channels")
        .map("per_channel", MapShape.CHANNELS, ColourScale.DIVERGING,
            timesInput ? "the input times the rectified gradient, per channel"
                : "the rectified gradient, per channel")
        .build();
  }

  /** Rectified Gradient as published: the rectified gradient times the input. */
  public static RectifiedGradient withInput() {
    return new RectifiedGradient(true);
  }

  /** Seed 003's modification: the rectified gradient alone. */
  public static RectifiedGradient noBias() {
    return new RectifiedGradient(false);
  }

  @Override
  public String name() {
    return timesInput ? NAME : NOBIAS_NAME;
  }

  @Override
  public String description() {
    return timesInput
        ? "Gradient thresholded at each ReLU by the percentile of activation x gradient, times "
            + "the input (Rectified Gradient, Kim et al.); walkable models only"
        : "Rectified Gradient without the final multiplication by the input, which removes its "
            + "bias against dark pixels (Brocki and Chung); walkable models only";
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public ResultSchema resultSchema() {
    return result;
  }

  @Override
  public BatchTolerance batchTolerance() {
    // The thresholds are decisions; the pass runs alone, so nothing may move at all.
    return new BatchTolerance(0, 0, Set.of("relu_layers", "q"), Set.of());
  }

  @Override
  public boolean supports(ModelPackage model) {
    return LayerWalkRun.supported(model, LayerWalkRun.ALL_KINDS);
  }

  @Override
  public String requirement() {
    return LayerWalkRun.REQUIREMENT;
  }

  @Override
  public String requirement(ModelPackage model) {
    return LayerWalkRun.requirement(model, name(), LayerWalkRun.ALL_KINDS);
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(name(), raw, PARAMETERS);
    double q = p.get(PERCENTILE);
    return new Prepared(p.effective(), context -> new Run(context, q, timesInput, name()));
  }

  /**
   * The rectified backward sweep.
   *
   * @param atActivations {@code atActivations.get(a)}: the rectified gradient at activation
   *     {@code a} (index 0 is the gradient with respect to the normalised image), summed over
   *     the layers that read it
   * @param thresholds each layer's {@code tau}; NaN for layers other than ReLU
   * @param kept each ReLU layer's share of active units whose gradient passed; NaN for others
   */
  record Sweep(List<double[]> atActivations, double[] thresholds, double[] kept) {
    /** The gradient with respect to the normalised image. */
    double[] inputGradient() {
      return atActivations.get(0);
    }
  }

  /**
   * Carries the gradient of logit {@code target} back through {@code walk}, rectified at q: the
   * ordinary gradient step through every other kind of layer ({@link LayerOps#backward}).
   */
  static Sweep sweep(LayerWalk walk, int target, double q) {
    int layers = walk.layers().size();
    double[][] at = new double[layers + 1][];
    at[layers] = new double[walk.logits().length];
    at[layers][target] = 1;
    double[] thresholds = new double[layers];
    double[] kept = new double[layers];
    Arrays.fill(thresholds, Double.NaN);
    Arrays.fill(kept, Double.NaN);
    for (int i = layers - 1; i >= 0; i--) {
      // Every reader of activation i + 1 comes after layer i: its gradient is complete.
      double[] g = at[i + 1] == null ? new double[walk.output(i).length] : at[i + 1];
      at[i + 1] = g;
      if (walk.layers().get(i) instanceof LayerWalk.Relu) {
        float[] a = walk.output(i);
        double[] importance = new double[g.length];
        for (int k = 0; k < g.length; k++) {
          importance[k] = a[k] * g[k];
        }
        double tau = LayerOps.percentile(importance, q);
        double[] rectified = new double[g.length];
        int active = 0;
        int passed = 0;
        for (int k = 0; k < g.length; k++) {
          if (a[k] > 0) {
            active++;
            if (importance[k] >= tau) {
              rectified[k] = g[k];
              passed++;
            }
          }
        }
        thresholds[i] = tau;
        kept[i] = active == 0 ? 0 : (double) passed / active;
        LayerOps.accumulate(walk, i, new double[][] {rectified}, at);
      } else {
        LayerOps.accumulate(walk, i, LayerOps.backward(walk, i, g), at);
      }
    }
    return new Sweep(Arrays.asList(at), thresholds, kept);
  }

  /** The gradient in pixel space: the normalised one divided by each channel's std. */
  static double[] toPixelSpace(double[] normalisedGradient, InputSpec spec) {
    double[] out = new double[normalisedGradient.length];
    int cells = spec.height() * spec.width();
    for (int ch = 0; ch < spec.channels(); ch++) {
      for (int p = 0; p < cells; p++) {
        out[ch * cells + p] = normalisedGradient[ch * cells + p] / spec.std()[ch];
      }
    }
    return out;
  }

  private static final class Run extends LayerWalkRun {
    private final double q;
    private final boolean timesInput;
    private final String name;

    Run(MethodContext context, double q, boolean timesInput, String name) {
      super(context, true);
      this.q = q;
      this.timesInput = timesInput;
      this.name = name;
    }

    @Override
    protected List<ExplainEvent> events(LayerWalk walk, int passes) {
      InputSpec spec = context.model().input();
      float[] logits = walk.logits();
      float targetProbability = context.score(logits, context.target()).probability();
      Sweep sweep = sweep(walk, context.target(), q);
      int layers = walk.layers().size();
      List<ExplainEvent> events = new ArrayList<>();
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.put("target_logit", (double) logits[context.target()]);
      values.put("q", q);
      int reluLayers = 0;
      for (int i = layers - 1; i >= 0; i--) {
        LayerWalk.Layer layer = walk.layers().get(i);
        double[] g = sweep.atActivations().get(walk.reads().get(i)[0]);
        Map<String, Double> frameValues = new LinkedHashMap<>();
        frameValues.put("layer", (double) i);
        frameValues.put("gradient_l1", l1(g));
        if (layer instanceof LayerWalk.Relu) {
          reluLayers++;
          frameValues.put("threshold", sweep.thresholds()[i]);
          frameValues.put("kept_fraction", sweep.kept()[i]);
          values.put("threshold_layer_" + i, sweep.thresholds()[i]);
          values.put("kept_fraction_layer_" + i, sweep.kept()[i]);
        }
        int[] chw = LayerOps.spatialInput(layer);
        FloatTensor frameMap = context.frames().tensors() && chw != null
            ? GradientMaps.pixelMap(spec,
                LayerOps.channelSumAtInputSize(g, chw, spec.height(), spec.width()))
            : null;
        events.add(new ExplainEvent.Frame(layers - i,
            "layer " + i + " " + layer.kind().name().toLowerCase(Locale.ROOT), targetProbability,
            context.top(logits), frameValues, null, frameMap, passes));
      }
      values.put("relu_layers", (double) reluLayers);

      double[] gradient = toPixelSpace(sweep.inputGradient(), spec);
      float[] perChannel = new float[gradient.length];
      float[] image = context.image();
      for (int k = 0; k < gradient.length; k++) {
        perChannel[k] = (float) (timesInput ? image[k] * gradient[k] : gradient[k]);
      }
      float[] map = GradientMaps.sumOverChannels(LayerOps.toDoubles(perChannel), spec.channels());
      values.put("map_nonzero_fraction", nonZeroFraction(map));
      values.put("map_max_abs", GradientMaps.maxAbs(map));
      events.add(new ExplainEvent.Result(List.of(
          new SaliencyMap(name, GradientMaps.pixelMap(spec, map), ColourScale.DIVERGING),
          new SaliencyMap("per_channel", GradientMaps.channelMap(spec, perChannel),
              ColourScale.DIVERGING)),
          values, List.of(), List.of(), layers, passes, 0));
      return events;
    }
  }

  private static double l1(double[] v) {
    double s = 0;
    for (double x : v) {
      s += Math.abs(x);
    }
    return s;
  }

  private static double nonZeroFraction(float[] v) {
    int n = 0;
    for (float x : v) {
      if (x != 0) {
        n++;
      }
    }
    return (double) n / v.length;
  }
}
