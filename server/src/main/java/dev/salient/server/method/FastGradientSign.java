package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
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
 * The fast gradient sign method (seed 004, "The fast gradient sign method"; Goodfellow et al.
 * 2015): {@code x' = clip(x + eps * sign(∇ objective))}, with the smallest eps along this
 * direction that reaches the goal, bracketed to a stated relative precision.
 *
 * <p>The objective is the training loss the seed names, cross-entropy: untargeted, the loss of
 * the predicted class P is increased ({@code -log p(P)}); targeted at Q, the loss of Q is
 * decreased ({@code log p(Q)}), the targeted variant of Kurakin et al. eps is a fraction of the
 * model's pixel range. One gradient pass, then forward passes whose rows are candidates of
 * increasing eps: a geometric grid of {@code grid} values from {@code epsilon_min} to {@code
 * epsilon_max}; if its first value already reaches the goal, the same geometric grid continued
 * downwards until a value does not (or eps is down to {@link #SMALLEST_EPSILON}); then up to
 * {@code refine} geometrically spaced values inside the bracket per pass, until the smallest
 * flipping eps found is at most {@code 1 + precision} times the largest failing one below it.
 */
public final class FastGradientSign implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("flipped", ValueType.FLAG, "whether some epsilon flipped the class")
      .value("l2", ValueType.NUMBER, "the L2 distance from the image to the reported example")
      .value("iterations", ValueType.COUNT, "always 1: FGSM takes one gradient")
      .value("epsilon", ValueType.NUMBER,
          "the smallest epsilon found that flips (epsilon_upper), else the largest tried")
      .value("epsilon_lower", ValueType.NUMBER, "the largest epsilon known not to flip")
      .value("epsilon_upper", ValueType.NUMBER,
          "the smallest epsilon known to flip",
          "only when flipped")
      .value("on_boundary", ValueType.FLAG,
          "whether it flipped with epsilon_lower 0: the image is on the boundary")
      .value("margin", ValueType.NUMBER,
          "the goal margin in logits (strongest other class minus the goal class, targeted; "
          + "the source class minus the strongest other, untargeted): negative once the goal is"
          + " reached")
      .value("candidates", ValueType.COUNT, "the epsilons tried")
      .value("untargeted", ValueType.FLAG,
          "whether the attack only leaves the source class (no class was targeted)")
      .map("adversarial", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the adversarial example, in pixel values")
      .map("difference", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the adversarial example minus the image")
      .map("importance", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "|difference| summed over channels")
      .build();

  /** The method's name in requests. */
  public static final String NAME = "fgsm";

  /**
   * The smallest eps the downward search tries: below it a step changes a pixel by about one
   * float32 rounding, so an image that still flips here sits on the decision boundary.
   */
  static final double SMALLEST_EPSILON = 1e-7;

  // With a grid too fine to cover much per pass, the downward search steps at least this much.
  private static final double SMALLEST_DOWNWARD_RATIO = 1.1;

  static final Parameter<Double> EPSILON_MIN = Parameter.number("epsilon_min",
      "first grid eps, as a fraction of the pixel range; the search goes below it when it "
          + "already flips", 0.004, 1e-6, 1);
  static final Parameter<Double> EPSILON_MAX = Parameter.number("epsilon_max",
      "largest step eps tried, as a fraction of the pixel range; at least epsilon_min", 1.0,
      1e-6, 1);
  static final Parameter<Integer> GRID = Parameter.integer("grid",
      "eps values tried, geometrically spaced", 32, 1, 1024);
  static final Parameter<Integer> REFINE = Parameter.integer("refine",
      "most eps values per refinement pass inside the bracket; 0: no refinement, the bracket "
          + "is the grid's", 32, 0, 1024);
  static final Parameter<Double> PRECISION = Parameter.number("precision",
      "relative width the bracket is refined to: epsilon_upper <= (1 + precision) "
          + "epsilon_lower", 0.01, 1e-6, 1);
  static final Parameter<Boolean> UNTARGETED = Adversarial.untargeted();
  static final List<Parameter<?>> PARAMETERS =
      List.of(EPSILON_MIN, EPSILON_MAX, GRID, REFINE, PRECISION, UNTARGETED);

  /** Parameters of an FGSM request. */
  public record Parameters(double epsilonMin, double epsilonMax, int grid, int refine,
      double precision, boolean untargeted) {
    static Parameters of(MethodParameters p) {
      double min = p.get(EPSILON_MIN);
      double max = p.get(EPSILON_MAX);
      if (max < min) {
        throw p.invalid(EPSILON_MAX, "a number in [epsilon_min = " + Parameter.formatNumber(min)
            + ", 1]");
      }
      return new Parameters(min, max, p.get(GRID), p.get(REFINE), p.get(PRECISION),
          p.get(UNTARGETED));
    }

    /** The coarse grid, smallest first. */
    double[] coarseGrid() {
      double[] eps = new double[grid];
      for (int i = 0; i < grid; i++) {
        eps[i] = grid == 1 ? epsilonMax
            : epsilonMin * Math.pow(epsilonMax / epsilonMin, i / (grid - 1.0));
      }
      return eps;
    }

    /**
     * {@code grid} values below {@code flipping}, smallest first, spaced by the coarse grid's
     * ratio (at least {@link #SMALLEST_DOWNWARD_RATIO}) and none below {@link #SMALLEST_EPSILON}.
     */
    double[] downwardGrid(double flipping) {
      double ratio = grid == 1 ? 1 : Math.pow(epsilonMax / epsilonMin, 1 / (grid - 1.0));
      ratio = Math.max(ratio, SMALLEST_DOWNWARD_RATIO);
      double[] eps = new double[grid];
      int kept = 0;
      for (int i = grid; i >= 1; i--) {
        double e = flipping / Math.pow(ratio, i);
        if (e > SMALLEST_EPSILON) {
          eps[kept++] = e;
        } else if (kept == 0) {
          eps[kept++] = SMALLEST_EPSILON;
        }
      }
      return Arrays.copyOf(eps, kept);
    }

    /** Whether {@code upper} is within the precision of {@code lower}. */
    boolean precise(double lower, double upper) {
      // The tolerance absorbs the rounding of the refinement's own geometric spacing.
      return upper <= lower * (1 + precision) * (1 + 1e-12);
    }

    /**
     * The values strictly between {@code lower} and {@code upper}, smallest first, geometrically
     * spaced: as few as reach the precision in this pass, at most {@code refine}.
     */
    double[] refinement(double lower, double upper) {
      double logRatio = Math.log(upper / lower);
      int needed = (int) Math.ceil(logRatio / Math.log1p(precision) - 1e-9) - 1;
      int n = Math.max(1, Math.min(refine, needed));
      double[] eps = new double[n];
      for (int j = 1; j <= n; j++) {
        eps[j - 1] = lower * Math.exp(logRatio * j / (n + 1));
      }
      return eps;
    }
  }

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
    return new BatchTolerance(1e-4, 1e-4, Set.of("flipped", "iterations", "epsilon",
        "epsilon_lower", "epsilon_upper", "on_boundary", "candidates", "untargeted", "competitor"),
        Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.ADVERSARIAL;
  }

  @Override
  public String description() {
    return "Fast gradient sign method: x + eps sign(grad loss), the smallest flipping eps "
        + "bracketed to a relative precision (Goodfellow et al.)";
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

  /**
   * What the next pass does: the gradient, the coarse eps grid, the grid continued below its
   * first value, or values inside the bracket.
   */
  private enum Stage {
    GRADIENT,
    GRID,
    EXTEND,
    REFINE
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final InputSpec spec;
    private final Adversarial.Goal goal;
    private Stage stage = Stage.GRADIENT;
    private float[] sign;
    private double[] epsilons;
    private Pass pass;
    private int step;
    private int passes = 1;
    private int candidates;
    private boolean finished;
    // The bracket: the largest eps known not to reach the goal (eps = 0 is the image itself,
    // which never does) and the smallest known to reach it (NaN until one does).
    private double lower;
    private double upper = Double.NaN;
    // The candidate the result shows: at upper, else the largest tried.
    private float[] best;
    private double bestMargin;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      int predicted = Adversarial.predicted(context.logits());
      boolean untargeted = parameters.untargeted() || context.target() == predicted;
      this.goal = new Adversarial.Goal(predicted, context.target(), untargeted);
      this.best = context.image().clone();
      this.bestMargin = goal.margin(context.logits());
    }

    @Override
    public Pass nextPass() {
      if (finished) {
        return null;
      }
      if (pass == null) {
        if (stage == Stage.GRADIENT) {
          pass = new Pass(List.of(context.image()),
              new Pass.Objective(Pass.Output.LOG_PROBABILITY, List.of(lossWeights(goal,
                  context.model().numClasses()))));
        } else {
          List<float[]> images = new ArrayList<>(epsilons.length);
          for (double eps : epsilons) {
            images.add(candidate(eps));
          }
          pass = Pass.forward(images);
        }
      }
      return pass;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      passes += pass.size();
      List<float[]> images = pass.images();
      pass = null;
      List<ExplainEvent> events = new ArrayList<>();
      if (stage == Stage.GRADIENT) {
        sign = signOf(result.gradients().get(0));
        events.add(frame(context.image(), result.logits().get(0), 0));
        next(Stage.GRID, parameters.coarseGrid());
        return events;
      }
      // Candidates in increasing eps, up to the first that reaches the goal.
      int firstFlip = -1;
      for (int i = 0; i < epsilons.length && firstFlip < 0; i++) {
        float[] logits = result.logits().get(i);
        double margin = goal.margin(logits);
        candidates++;
        events.add(frame(images.get(i), logits, epsilons[i]));
        if (margin < 0) {
          firstFlip = i;
          upper = epsilons[i];
          best = images.get(i);
          bestMargin = margin;
        } else {
          lower = epsilons[i];
          if (Double.isNaN(upper)) {
            best = images.get(i);
            bestMargin = margin;
          }
        }
      }
      if (Double.isNaN(upper)) {
        return finish(events);
      }
      if (lower == 0) {
        if (upper <= SMALLEST_EPSILON) {
          return finish(events);
        }
        next(Stage.EXTEND, parameters.downwardGrid(upper));
        return events;
      }
      if (parameters.refine() > 0 && !parameters.precise(lower, upper)) {
        next(Stage.REFINE, parameters.refinement(lower, upper));
        return events;
      }
      return finish(events);
    }

    private void next(Stage nextStage, double[] nextEpsilons) {
      stage = nextStage;
      epsilons = nextEpsilons;
    }

    private List<ExplainEvent> finish(List<ExplainEvent> events) {
      finished = true;
      events.add(result());
      return events;
    }

    private float[] candidate(double eps) {
      float[] x = context.image();
      float[] out = new float[x.length];
      double step = eps * (spec.pixelMax() - spec.pixelMin());
      for (int i = 0; i < x.length; i++) {
        out[i] = (float) (x[i] + step * sign[i]);
      }
      return Adversarial.clip(out, spec);
    }

    private ExplainEvent frame(float[] x, float[] logits, double eps) {
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("competitor", (double) goal.heading(logits));
      values.put("epsilon", eps);
      values.put("distance", Adversarial.l2(context.image(), x));
      values.put("margin", goal.margin(logits));
      boolean tensors = context.frames().tensors();
      return new ExplainEvent.Frame(++step, stage.name().toLowerCase(Locale.ROOT),
          context.score(logits, context.target()).probability(), context.top(logits), values,
          tensors ? new FloatTensor(spec.shape(), x.clone()) : null,
          tensors ? new FloatTensor(spec.shape(), Adversarial.difference(context.image(), x))
              : null,
          passes);
    }

    private ExplainEvent.Result result() {
      boolean flipped = !Double.isNaN(upper);
      float[] image = context.image();
      float[] difference = new float[image.length];
      float[] importance = new float[spec.height() * spec.width()];
      Adversarial.accumulate(image, best, 1.0, spec.channels(), difference, importance);
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("flipped", Adversarial.indicator(flipped));
      values.put("l2", Adversarial.l2(image, best));
      values.put("iterations", 1.0);
      values.put("epsilon", flipped ? upper : lower);
      values.put("epsilon_lower", lower);
      if (flipped) {
        values.put("epsilon_upper", upper);
      }
      values.put("on_boundary", Adversarial.indicator(flipped && lower == 0));
      values.put("margin", bestMargin);
      values.put("candidates", (double) candidates);
      values.put("untargeted", Adversarial.indicator(goal.untargeted()));
      return new ExplainEvent.Result(Adversarial.maps(spec, best, difference, importance), values,
          List.of(), List.of(), step, passes, 0);
    }
  }

  /**
   * The class weights over log-probabilities whose gradient sign is the step: {@code -e_P}
   * (raise the loss of P) untargeted, {@code e_Q} (lower the loss of Q) targeted.
   */
  static float[] lossWeights(Adversarial.Goal goal, int numClasses) {
    float[] w = new float[numClasses];
    if (goal.untargeted()) {
      w[goal.source()] = -1f;
    } else {
      w[goal.target()] = 1f;
    }
    return w;
  }

  /** sign(g) element-wise, 0 where g is 0. */
  static float[] signOf(float[] g) {
    float[] s = new float[g.length];
    for (int i = 0; i < g.length; i++) {
      s[i] = Math.signum(g[i]);
    }
    return s;
  }
}
