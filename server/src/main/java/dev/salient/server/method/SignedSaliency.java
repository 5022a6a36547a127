package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.method.ExplainEvent.FloatTensor;
import dev.salient.server.method.ExplainEvent.SaliencyMap;
import dev.salient.server.render.ColourScale;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

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

  /** Parameters of a signed saliency request. */
  public record Parameters(Pass.Output output) {
    static final List<ParameterSpec> SPECS =
        List.of(new ParameterSpec("output",
            "what is differentiated: logit (the class score S_c), probability or log_probability",
            "logit"));

    static Parameters parse(Map<String, String> raw) {
      MethodParameters p = new MethodParameters(NAME, raw, SPECS);
      return new Parameters(p.choice("output", Pass.Output.class));
    }

    Map<String, String> asMap() {
      return Map.of("output", output.name().toLowerCase(Locale.ROOT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "signed";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "Positive and negative saliency (ReLU of +/- the gradient, max over channels), "
        + "Llorente et al. eq. 3-4";
  }

  @Override
  public List<ParameterSpec> parameters() {
    return Parameters.SPECS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    Parameters parameters = Parameters.parse(raw);
    return new Prepared(parameters.asMap(), context -> new Run(context, parameters));
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
