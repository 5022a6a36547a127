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
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Deep Taylor decomposition (Montavon et al.; seed 002, "Deep Taylor"): the target's logit is the
 * relevance of the output, redistributed layer by layer down to the pixels. Through each weighted
 * layer above the input the z+ rule, {@code R_i = sum_j (x_i w_ij+ / sum_i' x_i' w_i'j+) R_j};
 * at the input layer the zB rule with the model's pixel bounds {@code l <= x <= h}, {@code R_i =
 * sum_j (x_i w_ij - l_i w_ij+ - h_i w_ij-) / (sum_i' ...) R_j}. A ReLU passes relevance through
 * unchanged, max-pooling hands each window's relevance to its winning input, a flatten reshapes.
 *
 * <p>Biases: neither rule has a bias term (the seed's z+ and zB denominators sum the inputs'
 * contributions only), so a layer hands on exactly the relevance it received, except at an
 * output unit whose positive activation came from its bias alone: no input contributes
 * ({@code sum z+ = 0}) and its relevance is dropped. The result reports the relevance sum of
 * every layer, so that loss is visible. With a positive target logit every relevance is
 * non-negative (all the rules' coefficients are).
 */
public final class DeepTaylor implements ExplanationMethod {

  /** The method's name in requests. */
  public static final String NAME = "deep_taylor";

  /**
   * The kinds of layer the seed's rules are defined for: z+ / zB through weighted layers,
   * winner-takes-all through max pooling, pass-through for ReLU and flatten. Batch
   * normalisation (an affine map with negative scales and shifts) and residual additions have
   * no rule there, so ResNet-18 is not supported.
   */
  static final Set<LayerWalk.Kind> RULES = EnumSet.of(LayerWalk.Kind.CONV, LayerWalk.Kind.RELU,
      LayerWalk.Kind.MAX_POOL, LayerWalk.Kind.FLATTEN, LayerWalk.Kind.LINEAR);

  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("relevance_output", ValueType.NUMBER,
          "the relevance the decomposition starts from: the target's logit")
      .value("relevance_layer_<n>", ValueType.NUMBER,
          "the sum of the relevance at layer n's input", "one per layer")
      .value("relevance_input", ValueType.NUMBER, "the sum of the input relevance")
      .value("conservation_max_relative_change", ValueType.NUMBER,
          "the largest change of the relevance sum from one layer to the next, relative")
      .value("negative_input_fraction", ValueType.FRACTION,
          "the share of input relevances below 0")
      .value("layers", ValueType.COUNT, "the layers walked")
      .map(NAME, MapShape.PIXELS, ColourScale.DIVERGING,
          "the input relevance, summed over channels")
      .map("per_channel", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the input relevance per channel")
      .build();

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "Relevance of the target's logit redistributed layer by layer, z+ rule in hidden "
        + "layers, zB at the input (Deep Taylor, Montavon et al.); walkable models without "
        + "batch normalisation or residual additions";
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public List<Parameter<?>> parameters() {
    return List.of();
  }

  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-4, 1e-4, Set.of("layers"), Set.of());
  }

  @Override
  public boolean supports(ModelPackage model) {
    return LayerWalkRun.supported(model, RULES);
  }

  @Override
  public String requirement() {
    return LayerWalkRun.REQUIREMENT;
  }

  @Override
  public String requirement(ModelPackage model) {
    return LayerWalkRun.requirement(model, name(), RULES);
  }

  @Override
  public boolean explainsVideo() {
    return true;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, List.of());
    return new Prepared(p.effective(), Run::new);
  }

  /**
   * The relevances of one decomposition: {@code atInputs.get(i)} at layer {@code i}'s input
   * (index 0 at the image's pixels, per channel), and {@code atOutput} at the logits.
   */
  record Relevance(List<double[]> atInputs, double[] atOutput) {
    /** The sum of the relevance at layer {@code i}'s input. */
    double sumAtInput(int i) {
      return LayerOps.sum(atInputs.get(i));
    }
  }

  /**
   * Decomposes logit {@code target} of {@code walk} down to the input, whose normalised values
   * lie in {@code [low[c], high[c]]} per channel.
   */
  static Relevance decompose(LayerWalk walk, int target, double[] low, double[] high) {
    int layers = walk.layers().size();
    double[] r = new double[walk.logits().length];
    r[target] = walk.logits()[target];
    double[] atOutput = r.clone();
    int first = firstWeighted(walk);
    double[][] atInputs = new double[layers][];
    for (int i = layers - 1; i >= 0; i--) {
      LayerWalk.Layer layer = walk.layers().get(i);
      if (!RULES.contains(layer.kind()) || walk.reads().get(i)[0] != i) {
        throw new IllegalArgumentException("deep_taylor has no rule for layer " + i + " ("
            + layer.kind() + "); it walks sequences of " + RULES);
      }
      float[] in = walk.input(i);
      if (layer instanceof LayerWalk.MaxPool p) {
        r = LayerOps.toWinners(p, in, r);
      } else if (layer instanceof LayerWalk.Linear || layer instanceof LayerWalk.Conv) {
        r = i == first ? zB(layer, in, r, low, high) : zPlus(layer, in, r);
      }
      atInputs[i] = r;
    }
    return new Relevance(Arrays.asList(atInputs), atOutput);
  }

  private static int firstWeighted(LayerWalk walk) {
    for (int i = 0; i < walk.layers().size(); i++) {
      LayerWalk.Kind kind = walk.layers().get(i).kind();
      if (kind == LayerWalk.Kind.CONV || kind == LayerWalk.Kind.LINEAR) {
        return i;
      }
    }
    throw new IllegalArgumentException("the walk has no weighted layer");
  }

  /** z+: {@code R_in = x * W+^T (R / (W+ x))}, with 0 where no input contributes. */
  static double[] zPlus(LayerWalk.Layer layer, float[] input, double[] r) {
    double[] x = LayerOps.toDoubles(input);
    float[] wPlus = LayerOps.positivePart(weight(layer));
    double[] z = forward(layer, wPlus, x);
    double[] s = ratio(r, z);
    double[] c = transpose(layer, wPlus, s);
    for (int k = 0; k < x.length; k++) {
      c[k] *= x[k];
    }
    return c;
  }

  /**
   * zB: {@code R_in = x * W^T s - l * W+^T s - h * W-^T s} with {@code s = R / (W x - W+ l -
   * W- h)}; the denominator is never negative inside the bounds.
   */
  static double[] zB(LayerWalk.Layer layer, float[] input, double[] r, double[] low,
      double[] high) {
    double[] x = LayerOps.toDoubles(input);
    double[] l = channelConstant(low, x.length);
    double[] h = channelConstant(high, x.length);
    float[] w = weight(layer);
    float[] wPlus = LayerOps.positivePart(w);
    float[] wMinus = LayerOps.negativePart(w);
    double[] zx = forward(layer, w, x);
    double[] zl = forward(layer, wPlus, l);
    double[] zh = forward(layer, wMinus, h);
    double[] z = new double[zx.length];
    for (int j = 0; j < z.length; j++) {
      z[j] = zx[j] - zl[j] - zh[j];
    }
    double[] s = ratio(r, z);
    double[] cx = transpose(layer, w, s);
    double[] cl = transpose(layer, wPlus, s);
    double[] ch = transpose(layer, wMinus, s);
    double[] out = new double[x.length];
    for (int k = 0; k < x.length; k++) {
      out[k] = x[k] * cx[k] - l[k] * cl[k] - h[k] * ch[k];
    }
    return out;
  }

  /** {@code values[c]} repeated over each channel's cells of an input of {@code size}. */
  private static double[] channelConstant(double[] values, int size) {
    double[] out = new double[size];
    int cells = size / values.length;
    for (int k = 0; k < size; k++) {
      out[k] = values[k / cells];
    }
    return out;
  }

  private static double[] ratio(double[] r, double[] z) {
    double[] s = new double[r.length];
    for (int j = 0; j < r.length; j++) {
      s[j] = z[j] > 0 ? r[j] / z[j] : 0;
    }
    return s;
  }

  private static float[] weight(LayerWalk.Layer layer) {
    return layer instanceof LayerWalk.Conv c ? c.weight() : ((LayerWalk.Linear) layer).weight();
  }

  private static double[] forward(LayerWalk.Layer layer, float[] w, double[] x) {
    return layer instanceof LayerWalk.Conv c ? LayerOps.conv(c, w, x)
        : LayerOps.linear((LayerWalk.Linear) layer, w, x);
  }

  private static double[] transpose(LayerWalk.Layer layer, float[] w, double[] s) {
    return layer instanceof LayerWalk.Conv c ? LayerOps.convTranspose(c, w, s)
        : LayerOps.linearTranspose((LayerWalk.Linear) layer, w, s);
  }

  /** The pixel bounds in the model's normalised space, per channel: {@code (bound - mean)/std}. */
  static double[][] normalisedBounds(InputSpec spec) {
    double[] low = new double[spec.channels()];
    double[] high = new double[spec.channels()];
    for (int c = 0; c < spec.channels(); c++) {
      low[c] = (spec.pixelMin() - spec.mean()[c]) / spec.std()[c];
      high[c] = (spec.pixelMax() - spec.mean()[c]) / spec.std()[c];
    }
    return new double[][] {low, high};
  }

  private static final class Run extends LayerWalkRun {
    Run(MethodContext context) {
      super(context, false);
    }

    @Override
    protected List<ExplainEvent> events(LayerWalk walk, int passes) {
      InputSpec spec = context.model().input();
      float[] logits = walk.logits();
      float targetProbability = context.score(logits, context.target()).probability();
      double[][] bounds = normalisedBounds(spec);
      Relevance relevance = decompose(walk, context.target(), bounds[0], bounds[1]);
      int layers = walk.layers().size();
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.put("relevance_output", LayerOps.sum(relevance.atOutput()));
      List<ExplainEvent> events = new ArrayList<>();
      double above = LayerOps.sum(relevance.atOutput());
      double worst = 0;
      for (int i = layers - 1; i >= 0; i--) {
        LayerWalk.Layer layer = walk.layers().get(i);
        double[] r = relevance.atInputs().get(i);
        double sum = LayerOps.sum(r);
        double change = above == 0 ? Math.abs(sum) : Math.abs(sum - above) / Math.abs(above);
        worst = Math.max(worst, change);
        above = sum;
        String kind = layer.kind().name().toLowerCase(Locale.ROOT);
        values.put("relevance_layer_" + i, sum);
        Map<String, Double> frameValues = new LinkedHashMap<>();
        frameValues.put("layer", (double) i);
        frameValues.put("relevance_sum", sum);
        frameValues.put("relative_change", change);
        int[] chw = LayerOps.spatialInput(layer);
        FloatTensor frameMap = context.frames().tensors() && chw != null
            ? GradientMaps.pixelMap(spec,
                LayerOps.channelSumAtInputSize(r, chw, spec.height(), spec.width()))
            : null;
        events.add(new ExplainEvent.Frame(layers - i, "layer " + i + " " + kind,
            targetProbability, context.top(logits), frameValues, null, frameMap, passes));
      }
      double[] input = relevance.atInputs().get(0);
      int negative = 0;
      for (double v : input) {
        if (v < 0) {
          negative++;
        }
      }
      values.put("relevance_input", LayerOps.sum(input));
      values.put("conservation_max_relative_change", worst);
      values.put("negative_input_fraction", (double) negative / input.length);
      values.put("layers", (double) layers);
      float[] map = GradientMaps.sumOverChannels(input, spec.channels());
      events.add(new ExplainEvent.Result(List.of(
          new SaliencyMap(NAME, GradientMaps.pixelMap(spec, map), ColourScale.DIVERGING),
          new SaliencyMap("per_channel", GradientMaps.channelMap(spec,
              GradientMaps.toFloats(input)), ColourScale.DIVERGING)),
          values, List.of(), List.of(), layers, passes, 0));
      return events;
    }
  }
}
