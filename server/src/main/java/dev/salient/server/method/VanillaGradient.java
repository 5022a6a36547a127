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

/**
 * The vanilla gradient saliency map (seed 004, section 2.1; Simonyan et al. 2013): the input
 * gradient of the target class, reduced over channels. One gradient pass.
 *
 * <p>By default it differentiates the logit (the class score before softmax), as Simonyan et al.
 * do: the probability's gradient also carries the competing classes' scores and vanishes when the
 * model is confident. {@code output=probability} or {@code log_probability} select the others.
 */
public final class VanillaGradient implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("target_logit", ValueType.NUMBER, "the target class's logit at the image")
      .value("gradient_l2", ValueType.NUMBER, "the L2 norm of the input gradient")
      .value("gradient_max_abs", ValueType.NUMBER, "the largest |value| of the input gradient")
      .map("saliency", MapShape.PIXELS_OR_CHANNELS, null,
          "the gradient reduced over channels as the reduction parameter says (max |g| by "
          + "default)")
      .map("gradient", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the raw input gradient of the target")
      .build();

  static final Parameter<ChannelReduction> REDUCTION = Parameter.choice("reduction",
      "channel reduction: max_abs (max of |g|, Simonyan et al.), mean (signed mean, lecture "
          + "notes) or signed (raw gradient, one map per channel)", ChannelReduction.MAX_ABS);
  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is differentiated: logit, probability or log_probability", Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS = List.of(REDUCTION, OUTPUT);

  /** Parameters of a vanilla gradient request. */
  public record Parameters(ChannelReduction reduction, Pass.Output output) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(REDUCTION), p.get(OUTPUT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "vanilla";

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
    return BatchTolerance.continuous(1e-5, 1e-5);
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Input gradient of the target class (Simonyan et al.), reduced over channels";
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
    private final Parameters parameters;

    Run(MethodContext context, Parameters parameters) {
      super(context, parameters.output());
      this.parameters = parameters;
    }

    @Override
    protected List<ExplainEvent> events(float[] logits, float[] gradient, int passes) {
      InputSpec spec = context.model().input();
      float targetProbability = context.score(logits, context.target()).probability();
      float[] saliency = parameters.reduction().apply(gradient, spec.channels());
      long[] mapShape = parameters.reduction() == ChannelReduction.SIGNED
          ? spec.shape() : new long[] {spec.height(), spec.width()};
      ColourScale scale = parameters.reduction() == ChannelReduction.MAX_ABS
          ? ColourScale.SEQUENTIAL : ColourScale.DIVERGING;

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("target_logit", (double) logits[context.target()]);
      frameValues.put("gradient_l2", l2(gradient));
      frameValues.put("gradient_max_abs", maxAbs(gradient));
      // The frame has its own target_probability field; the result lists it among its values.
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.putAll(frameValues);

      FloatTensor map = new FloatTensor(mapShape, saliency);
      ExplainEvent frame = new ExplainEvent.Frame(1, "gradient", targetProbability,
          context.top(logits), frameValues,
          context.frames().tensors() ? new FloatTensor(spec.shape(), context.image()) : null,
          context.frames().tensors() ? map : null, passes);
      ExplainEvent resultEvent = new ExplainEvent.Result(
          List.of(new SaliencyMap("saliency", map, scale),
              new SaliencyMap("gradient", new FloatTensor(spec.shape(), gradient),
                  ColourScale.DIVERGING)),
          values, List.of(), List.of(), 1, passes, 0);
      return List.of(frame, resultEvent);
    }

    private static double l2(float[] v) {
      double s = 0;
      for (float x : v) {
        s += (double) x * x;
      }
      return Math.sqrt(s);
    }

    private static double maxAbs(float[] v) {
      double m = 0;
      for (float x : v) {
        m = Math.max(m, Math.abs(x));
      }
      return m;
    }
  }
}
