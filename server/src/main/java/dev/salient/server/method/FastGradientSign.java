package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fast gradient sign method (seed 004, "The fast gradient sign method"; Goodfellow et al.
 * 2015): {@code x' = clip(x + eps * sign(∇ objective))}, with the smallest eps on a grid that
 * reaches the goal.
 *
 * <p>The objective is the training loss the seed names, cross-entropy: untargeted, the loss of
 * the predicted class P is increased ({@code -log p(P)}); targeted at Q, the loss of Q is
 * decreased ({@code log p(Q)}), the targeted variant of Kurakin et al. One gradient pass, then
 * one forward pass over a geometric grid of {@code grid} values of eps from {@code epsilon_min}
 * to {@code epsilon_max} (all candidates are rows of the same pass), then one over {@code refine}
 * evenly spaced values between the last grid value that fails and the first that succeeds. eps is
 * a fraction of the model's pixel range. With the defaults the returned eps is within about 1.2 %
 * of the smallest that flips along this direction.
 */
public final class FastGradientSign implements ExplanationMethod {

  /** The method's name in requests. */
  public static final String NAME = "fgsm";

  static final Parameter<Double> EPSILON_MIN = Parameter.number("epsilon_min",
      "smallest step eps tried, as a fraction of the pixel range", 0.004, 1e-6, 1);
  static final Parameter<Double> EPSILON_MAX = Parameter.number("epsilon_max",
      "largest step eps tried, as a fraction of the pixel range; at least epsilon_min", 1.0,
      1e-6, 1);
  static final Parameter<Integer> GRID = Parameter.integer("grid",
      "eps values tried, geometrically spaced", 32, 1, 1024);
  static final Parameter<Integer> REFINE = Parameter.integer("refine",
      "eps values tried between the last failing and the first flipping grid value", 16, 0,
      1024);
  static final Parameter<Boolean> UNTARGETED = Adversarial.untargeted();
  static final List<Parameter<?>> PARAMETERS =
      List.of(EPSILON_MIN, EPSILON_MAX, GRID, REFINE, UNTARGETED);

  /** Parameters of an FGSM request. */
  public record Parameters(double epsilonMin, double epsilonMax, int grid, int refine,
      boolean untargeted) {
    static Parameters of(MethodParameters p) {
      double min = p.get(EPSILON_MIN);
      double max = p.get(EPSILON_MAX);
      if (max < min) {
        throw p.invalid(EPSILON_MAX, "a number in [epsilon_min = " + Parameter.formatNumber(min)
            + ", 1]");
      }
      return new Parameters(min, max, p.get(GRID), p.get(REFINE), p.get(UNTARGETED));
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
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.ADVERSARIAL;
  }

  @Override
  public String description() {
    return "Fast gradient sign method: x + eps sign(grad loss), smallest flipping eps on a grid "
        + "(Goodfellow et al.)";
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

  /** What the next pass does: the gradient, the coarse eps grid, or its refinement. */
  private enum Stage {
    GRADIENT,
    GRID,
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
    // The best candidate so far: the smallest flipping one, else the largest tried.
    private float[] best;
    private double bestEpsilon;
    private double bestMargin;
    private boolean flipped;

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
        epsilons = parameters.coarseGrid();
        stage = Stage.GRID;
        return events;
      }
      // Candidates in increasing eps, up to the first that reaches the goal.
      int firstFlip = -1;
      for (int i = 0; i < epsilons.length && firstFlip < 0; i++) {
        float[] logits = result.logits().get(i);
        double margin = goal.margin(logits);
        candidates++;
        events.add(frame(images.get(i), logits, epsilons[i]));
        if (margin < 0 || !flipped) {
          best = images.get(i);
          bestEpsilon = epsilons[i];
          bestMargin = margin;
        }
        if (margin < 0) {
          firstFlip = i;
          flipped = true;
        }
      }
      if (stage == Stage.GRID && firstFlip >= 0 && parameters.refine() > 0) {
        double lo = firstFlip == 0 ? 0 : epsilons[firstFlip - 1];
        double hi = epsilons[firstFlip];
        double[] fine = new double[parameters.refine()];
        for (int j = 0; j < fine.length; j++) {
          fine[j] = lo + (hi - lo) * (j + 1) / (fine.length + 1);
        }
        epsilons = fine;
        stage = Stage.REFINE;
        return events;
      }
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
      float[] image = context.image();
      float[] difference = new float[image.length];
      float[] importance = new float[spec.height() * spec.width()];
      Adversarial.accumulate(image, best, 1.0, spec.channels(), difference, importance);
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("flipped", Adversarial.indicator(flipped));
      values.put("l2", Adversarial.l2(image, best));
      values.put("iterations", 1.0);
      values.put("epsilon", bestEpsilon);
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
