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
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Multi-class active and inactive saliency maps (seed 001, section 3, eq. 5-6). With {@code g_c}
 * the input gradient of the explained class and {@code g_q} those of its competitors:
 *
 * <ul>
 *   <li>active: {@code max_channel |g_c| * prod_q [g_c > g_q]}, the pixels whose brightening
 *       raises the class's score more than every competitor's (widens every margin);
 *   <li>inactive: {@code max_channel |g_c| * prod_q [g_c < g_q]}, the pixels whose darkening
 *       does.
 * </ul>
 *
 * <p>The comparison is between signed gradients, as the paper's text says ("a higher gradient for
 * the predicted class than for any other class"); the value kept is {@code M_c}, the original
 * saliency magnitude {@code |g_c|} of that channel. The two indicators are strict, so an element
 * is never in both sets. The competitors are the {@code k} classes with the highest logits other
 * than the explained class ({@code all}: every other class, as in the paper); all their gradients
 * come from one batched pass. {@code active - inactive} is also returned as one diverging map.
 */
public final class ActiveInactiveSaliency implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("competitors", ValueType.COUNT,
          "how many competitor classes the maps compare the target with")
      .value("active_fraction", ValueType.FRACTION,
          "the share of pixels where the target's gradient beats every competitor's (eq. 5)")
      .value("inactive_fraction", ValueType.FRACTION,
          "the share of pixels where it loses to every competitor's (eq. 6)")
      .value("active_sum", ValueType.NUMBER, "the sum of the active map")
      .value("inactive_sum", ValueType.NUMBER, "the sum of the inactive map")
      .value("competitor_<rank>", ValueType.CLASS_INDEX,
          "the competitor classes, by rank from 1",
          "one per competitor")
      .map("active", MapShape.PIXELS, ColourScale.SEQUENTIAL, "active saliency (eq. 5)")
      .map("inactive", MapShape.PIXELS, ColourScale.SEQUENTIAL, "inactive saliency (eq. 6)")
      .map("active_minus_inactive", MapShape.PIXELS, ColourScale.DIVERGING,
          "active minus inactive saliency")
      .build();

  /** {@code k} when every other class competes. */
  static final int ALL_COMPETITORS = 0;

  static final Parameter<Integer> K = Parameter.text("k",
      "competing classes: the k best-scoring classes other than the target, or all (every other "
          + "class, as in the paper)", ALL_COMPETITORS, "all or an integer in [1, 10000]",
      text -> {
        if (text.trim().equalsIgnoreCase("all")) {
          return ALL_COMPETITORS;
        }
        int k = Integer.parseInt(text.trim());
        if (k < 1 || k > 10_000) {
          throw new IllegalArgumentException();
        }
        return k;
      }, k -> k == ALL_COMPETITORS ? "all" : Integer.toString(k));
  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is differentiated: logit (the class score S), probability or log_probability",
      Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS = List.of(K, OUTPUT);

  /**
   * Parameters of an active / inactive request.
   *
   * @param competitors how many competing classes, or {@link #ALL_COMPETITORS}
   */
  public record Parameters(int competitors, Pass.Output output) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(K), p.get(OUTPUT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "active_inactive";

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
    return new BatchTolerance(1e-5, 1e-5, Set.of("competitors", "competitor_",
        "active_fraction", "inactive_fraction"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Active and inactive multi-class saliency against the top-k competing classes, "
        + "Llorente et al. eq. 5-6";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> {
      int classes = context.model().numClasses();
      if (parameters.competitors() > classes - 1) {
        throw new SalientException.InvalidArgument("method " + NAME + ": k="
            + parameters.competitors() + " but model " + context.model().name() + " has only "
            + (classes - 1) + " classes besides the target; use k <= " + (classes - 1)
            + " or k=all");
      }
      return new Run(context, parameters);
    });
  }

  /**
   * The element-wise masks of eq. 5-6: {@code active[i]} when {@code g_c[i] > g_q[i]} for every
   * competitor, {@code inactive[i]} when {@code g_c[i] < g_q[i]} for every competitor.
   */
  record Masks(boolean[] active, boolean[] inactive) {
    static Masks of(float[] target, List<float[]> competitors) {
      boolean[] active = new boolean[target.length];
      boolean[] inactive = new boolean[target.length];
      for (int i = 0; i < target.length; i++) {
        boolean above = true;
        boolean below = true;
        for (float[] q : competitors) {
          above &= target[i] > q[i];
          below &= target[i] < q[i];
        }
        active[i] = above;
        inactive[i] = below;
      }
      return new Masks(active, inactive);
    }
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final int[] competitors;
    private final boolean targetGradientKnown;
    private boolean done;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      int k = parameters.competitors() == 0
          ? context.model().numClasses() - 1 : parameters.competitors();
      this.competitors = MethodContext.topClasses(context.model(), context.logits(), k + 1)
          .stream()
          .mapToInt(ExplainEvent.ClassScore::index)
          .filter(i -> i != context.target())
          .limit(k)
          .toArray();
      // The logit's gradient of the target came with the job's first pass.
      this.targetGradientKnown =
          parameters.output() == Pass.Output.LOGIT && context.logitGradient() != null;
    }

    @Override
    public Pass nextPass() {
      if (done) {
        return null;
      }
      List<float[]> images = new ArrayList<>();
      List<Integer> classes = new ArrayList<>();
      if (!targetGradientKnown) {
        classes.add(context.target());
      }
      for (int q : competitors) {
        classes.add(q);
      }
      for (int i = 0; i < classes.size(); i++) {
        images.add(context.image());
      }
      return Pass.gradient(images, parameters.output(),
          classes.stream().mapToInt(Integer::intValue).toArray(), context.model().numClasses());
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      done = true;
      int first = targetGradientKnown ? 0 : 1;
      float[] target = targetGradientKnown ? context.logitGradient() : result.gradients().get(0);
      List<float[]> competitorGradients = result.gradients().subList(first,
          result.gradients().size());
      float[] logits = result.logits().get(0);
      return events(logits, target, competitorGradients, result.logits().size());
    }

    private List<ExplainEvent> events(float[] logits, float[] target, List<float[]> others,
        int passes) {
      InputSpec spec = context.model().input();
      Masks masks = Masks.of(target, others);
      float[] activeElements = new float[target.length];
      float[] inactiveElements = new float[target.length];
      int activeCount = 0;
      int inactiveCount = 0;
      for (int i = 0; i < target.length; i++) {
        if (masks.active()[i]) {
          activeElements[i] = Math.abs(target[i]);
          activeCount++;
        } else if (masks.inactive()[i]) {
          inactiveElements[i] = Math.abs(target[i]);
          inactiveCount++;
        }
      }
      float[] active = GradientMaps.maxOverChannels(activeElements, spec.channels());
      float[] inactive = GradientMaps.maxOverChannels(inactiveElements, spec.channels());
      float targetProbability = context.score(logits, context.target()).probability();

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("competitors", (double) competitors.length);
      frameValues.put("active_fraction", (double) activeCount / target.length);
      frameValues.put("inactive_fraction", (double) inactiveCount / target.length);
      frameValues.put("active_sum", GradientMaps.sum(active));
      frameValues.put("inactive_sum", GradientMaps.sum(inactive));
      for (int i = 0; i < competitors.length; i++) {
        frameValues.put("competitor_" + (i + 1), (double) competitors[i]);
      }
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.putAll(frameValues);

      FloatTensor combined = GradientMaps.pixelMap(spec, GradientMaps.difference(active, inactive));
      ExplainEvent frame = new ExplainEvent.Frame(1, "gradients", targetProbability,
          context.top(logits), frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? combined : null, 1 + passes);
      ExplainEvent result = new ExplainEvent.Result(
          List.of(new SaliencyMap("active", GradientMaps.pixelMap(spec, active),
                  ColourScale.SEQUENTIAL),
              new SaliencyMap("inactive", GradientMaps.pixelMap(spec, inactive),
                  ColourScale.SEQUENTIAL),
              new SaliencyMap("active_minus_inactive", combined, ColourScale.DIVERGING)),
          values, List.of(), List.of(), 1, 1 + passes, 0);
      return List.of(frame, result);
    }
  }
}
