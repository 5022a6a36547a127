package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Signed saliency maps (seed 001, section 2, eq. 3-4): the positive map {@code max_channel
 * ReLU(dS_c/dI)} shows the pixels whose brightening raises the class score, the negative map
 * {@code max_channel ReLU(-dS_c/dI)} those whose darkening does. Both are magnitudes (sequential
 * colour scale); their difference {@code positive - negative} is also returned as one signed map
 * with a diverging colour scale (red: brighten, blue: darken). Where one channel's gradient
 * dominates a pixel (always, for grey images) that difference is the gradient itself.
 *
 * <p>{@code S_c} is the class logit by default, as in the paper (its footnote 1: "the logit of the
 * predicted class increases"); the logit's gradient comes with the job's first pass, so the
 * default costs no pass of its own.
 */
public final class SignedSaliency implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("target_logit", ValueType.NUMBER, "the target class's logit at the image")
      .value("positive_sum", ValueType.NUMBER, "the sum of the positive saliency map (eq. 3)")
      .value("negative_sum", ValueType.NUMBER, "the sum of the negative saliency map (eq. 4)")
      .value("positive_fraction", ValueType.FRACTION,
          "the share of pixels whose signed saliency is positive")
      .map("positive", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "positive saliency: where raising the pixel raises the target (eq. 3)")
      .map("negative", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "negative saliency: where raising the pixel lowers the target (eq. 4)")
      .map("signed", MapShape.PIXELS, ColourScale.DIVERGING, "positive minus negative saliency")
      .build();

  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is differentiated: logit (the class score S_c), probability or log_probability",
      Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS = List.of(OUTPUT);

  /** Parameters of a signed saliency request. */
  public record Parameters(Pass.Output output) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(OUTPUT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "signed";

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
    return new BatchTolerance(1e-5, 1e-5, Set.of("positive_fraction"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Positive and negative saliency (ReLU of +/- the gradient, max over channels), "
        + "Llorente et al. eq. 3-4";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public boolean explainsVideo() {
    return true;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  private static final class Run extends SingleGradientRun {
    Run(MethodContext context, Parameters parameters) {
      super(context, parameters.output());
    }

    @Override
    protected List<ExplainEvent> events(float[] logits, float[] gradient, int passes) {
      InputSpec spec = context.model().input();
      float[] positive = GradientMaps.positive(gradient, spec.channels());
      float[] negative = GradientMaps.negative(gradient, spec.channels());
      float[] signed = GradientMaps.difference(positive, negative);
      float targetProbability = context.score(logits, context.target()).probability();

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("target_logit", (double) logits[context.target()]);
      frameValues.put("positive_sum", GradientMaps.sum(positive));
      frameValues.put("negative_sum", GradientMaps.sum(negative));
      frameValues.put("positive_fraction", GradientMaps.fractionPositive(signed));
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.putAll(frameValues);

      FloatTensor signedMap = GradientMaps.pixelMap(spec, signed);
      ExplainEvent frame = new ExplainEvent.Frame(1, "gradient", targetProbability,
          context.top(logits), frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? signedMap : null, passes);
      ExplainEvent result = new ExplainEvent.Result(
          List.of(new SaliencyMap("positive", GradientMaps.pixelMap(spec, positive),
                  ColourScale.SEQUENTIAL),
              new SaliencyMap("negative", GradientMaps.pixelMap(spec, negative),
                  ColourScale.SEQUENTIAL),
              new SaliencyMap("signed", signedMap, ColourScale.DIVERGING)),
          values, List.of(), List.of(), 1, passes, 0);
      return List.of(frame, result);
    }
  }
}
