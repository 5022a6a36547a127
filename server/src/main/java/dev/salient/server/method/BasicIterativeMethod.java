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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The basic iterative method (seed 004, "The Basic Iterative Method"; Kurakin et al. 2017): FGSM
 * in small steps, {@code x_{n+1} = Clip(x_n + alpha * sign(∇ objective(x_n)))}, the gradient
 * recomputed at every step, stopping at the first iterate that reaches the goal; then a line
 * search along that last step back towards the boundary.
 *
 * <p>The objective is that of {@link FastGradientSign} (cross-entropy of P raised, or of the
 * target lowered). Clip keeps every pixel in the model's pixel range, as the seed's Clip keeps
 * [0, 255], and within {@code epsilon} of the original pixel (Kurakin et al.'s eps-ball; the
 * default 1.0 leaves only the pixel range). {@code alpha} and {@code epsilon} are fractions of the
 * pixel range: the default alpha 1/255 is the seed's "alpha = 1" on a 0..255 scale.
 *
 * <p>A whole step of a sensitive model can carry the margin far past the boundary, so the first
 * iterate that reaches the goal is not returned as it is: evenly spaced points of the segment
 * from the last iterate that does not reach it are tried, up to {@code refine} per pass, keeping
 * the first that does, until its margin is no further past the boundary than {@code overshoot}
 * times the margin at the image. Every point of the segment lies in the pixel range and the
 * eps-ball, which are convex.
 */
public final class BasicIterativeMethod implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("flipped", ValueType.FLAG, "whether the iterations flipped the class")
      .value("l2", ValueType.NUMBER, "the L2 distance from the image to the reported example")
      .value("iterations", ValueType.COUNT, "the sign steps taken")
      .value("margin", ValueType.NUMBER,
          "the goal margin in logits (strongest other class minus the goal class, targeted; "
          + "the source class minus the strongest other, untargeted): negative once the goal is"
          + " reached")
      .value("step_fraction", ValueType.FRACTION,
          "the fraction of the last step that flips, after the refining search (1: the whole "
          + "step)")
      .value("iteration_bound", ValueType.FLAG,
          "whether it stopped at max_iterations without flipping")
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
  public static final String NAME = "bim";

  /**
   * The narrowest part of the last step the line search brackets: a margin that still jumps
   * past the tolerance across it is discontinuous there (or the tolerance is 0).
   */
  static final double SMALLEST_STEP_FRACTION = 1e-6;

  static final Parameter<Double> ALPHA = Parameter.number("alpha",
      "step size, as a fraction of the pixel range", 0.004, 1e-6, 1);
  static final Parameter<Double> EPSILON = Parameter.number("epsilon",
      "largest change of any pixel, as a fraction of the pixel range", 1.0, 1e-6, 1);
  static final Parameter<Integer> MAX_ITERATIONS = Parameter.integer("max_iterations",
      "bound on the steps", 200, 1, 10_000);
  static final Parameter<Integer> REFINE = Parameter.integer("refine",
      "most points of the last step tried per pass of the line search; 0: return the first "
          + "iterate that reaches the goal as it is", 16, 0, 1024);
  static final Parameter<Double> OVERSHOOT = Parameter.number("overshoot",
      "how far past the boundary the returned margin may be, as a fraction of the margin at "
          + "the image", 0.02, 0, 1);
  static final Parameter<Boolean> UNTARGETED = Adversarial.untargeted();
  static final List<Parameter<?>> PARAMETERS =
      List.of(ALPHA, EPSILON, MAX_ITERATIONS, REFINE, OVERSHOOT, UNTARGETED);

  /** Parameters of a BIM request. */
  public record Parameters(double alpha, double epsilon, int maxIterations, int refine,
      double overshoot, boolean untargeted) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(ALPHA), p.get(EPSILON), p.get(MAX_ITERATIONS), p.get(REFINE),
          p.get(OVERSHOOT), p.get(UNTARGETED));
    }

    /**
     * Points strictly inside the fractions ({@code low}, {@code high}) of the last step, evenly
     * spaced: if the margin is linear along the step, as few as put the first flipping one
     * within {@code tolerance} of the boundary, at most {@code refine}.
     */
    double[] lineSearch(double low, double high, double marginDrop, double tolerance) {
      double needed = tolerance > 0 ? Math.ceil(marginDrop / tolerance) - 1 : refine;
      int n = (int) Math.max(1, Math.min(refine, needed));
      double[] fractions = new double[n];
      for (int j = 1; j <= n; j++) {
        fractions[j - 1] = low + (high - low) * j / (n + 1);
      }
      return fractions;
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
    return new BatchTolerance(1e-4, 1e-4, Set.of("flipped", "iterations", "step_fraction",
        "iteration_bound", "untargeted", "competitor"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.ADVERSARIAL;
  }

  @Override
  public String description() {
    return "Basic iterative method: clipped steps alpha sign(grad loss) until the class flips, "
        + "the last step cut back to the boundary (Kurakin et al.)";
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

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final InputSpec spec;
    private final Adversarial.Goal goal;
    private final float[] weights;
    // How far past the boundary the returned margin may be, in logits.
    private final double tolerance;
    private float[] x;
    private int iterations;
    private int frames;
    private int passes = 1;
    private double margin;
    private boolean flipped;
    private boolean finished;
    private Pass pass;
    // The line search: the last iterate that does not reach the goal and the step after it,
    // bracketed between the fractions low (not reaching) and high (reaching) of the step.
    private boolean searching;
    private float[] stepStart;
    private double stepStartMargin;
    private float[] stepEnd;
    private double low;
    private double lowMargin;
    private double high = 1;
    private double[] fractions;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      int predicted = Adversarial.predicted(context.logits());
      boolean untargeted = parameters.untargeted() || context.target() == predicted;
      this.goal = new Adversarial.Goal(predicted, context.target(), untargeted);
      this.weights = FastGradientSign.lossWeights(goal, context.model().numClasses());
      this.tolerance = parameters.overshoot() * Math.max(0, goal.margin(context.logits()));
      this.x = context.image().clone();
    }

    @Override
    public Pass nextPass() {
      if (finished) {
        return null;
      }
      if (pass == null) {
        if (searching) {
          List<float[]> points = new ArrayList<>(fractions.length);
          for (double t : fractions) {
            points.add(pointOfLastStep(t));
          }
          pass = Pass.forward(points);
        } else {
          pass = new Pass(List.of(x),
              new Pass.Objective(Pass.Output.LOG_PROBABILITY, List.of(weights)));
        }
      }
      return pass;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      passes += pass.size();
      List<float[]> points = pass.images();
      pass = null;
      return searching ? onLineSearch(result, points) : onIterate(result);
    }

    private List<ExplainEvent> onIterate(PassResult result) {
      float[] logits = result.logits().get(0);
      margin = goal.margin(logits);
      List<ExplainEvent> events = new ArrayList<>();
      events.add(frame(x, logits, iterations == 0 ? "start" : "step", 1));
      if (margin < 0) {
        flipped = true;
        if (parameters.refine() > 0 && stepStart != null && margin < -tolerance) {
          searching = true;
          stepEnd = x;
          lowMargin = stepStartMargin;
          fractions = parameters.lineSearch(low, high, lowMargin - margin, tolerance);
          return events;
        }
        return finish(events);
      }
      if (iterations >= parameters.maxIterations()) {
        return finish(events);
      }
      stepStart = x;
      stepStartMargin = margin;
      step(FastGradientSign.signOf(result.gradients().get(0)));
      return events;
    }

    private List<ExplainEvent> onLineSearch(PassResult result, List<float[]> points) {
      List<ExplainEvent> events = new ArrayList<>();
      for (int i = 0; i < fractions.length; i++) {
        float[] logits = result.logits().get(i);
        double m = goal.margin(logits);
        events.add(frame(points.get(i), logits, "refine", fractions[i]));
        if (m < 0) {
          high = fractions[i];
          x = points.get(i);
          margin = m;
          break;
        }
        low = fractions[i];
        lowMargin = m;
      }
      if (margin >= -tolerance || high - low <= SMALLEST_STEP_FRACTION) {
        return finish(events);
      }
      fractions = parameters.lineSearch(low, high, lowMargin - margin, tolerance);
      return events;
    }

    private List<ExplainEvent> finish(List<ExplainEvent> events) {
      finished = true;
      events.add(result());
      return events;
    }

    private void step(float[] sign) {
      float[] image = context.image();
      double range = spec.pixelMax() - spec.pixelMin();
      double alpha = parameters.alpha() * range;
      double epsilon = parameters.epsilon() * range;
      float[] next = new float[x.length];
      for (int i = 0; i < x.length; i++) {
        double v = x[i] + alpha * sign[i];
        v = Math.max(image[i] - epsilon, Math.min(image[i] + epsilon, v));
        next[i] = (float) v;
      }
      x = Adversarial.clip(next, spec);
      iterations++;
    }

    /** The point the fraction {@code t} of the way along the last step. */
    private float[] pointOfLastStep(double t) {
      float[] point = new float[stepStart.length];
      for (int i = 0; i < point.length; i++) {
        point[i] = (float) (stepStart[i] + t * ((double) stepEnd[i] - stepStart[i]));
      }
      // Only float rounding can leave the range: both ends lie in it.
      return Adversarial.clip(point, spec);
    }

    private ExplainEvent frame(float[] point, float[] logits, String phase, double stepFraction) {
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("competitor", (double) goal.heading(logits));
      values.put("iteration", (double) iterations);
      values.put("step_fraction", stepFraction);
      values.put("distance", Adversarial.l2(context.image(), point));
      values.put("margin", goal.margin(logits));
      boolean tensors = context.frames().tensors();
      return new ExplainEvent.Frame(++frames, phase,
          context.score(logits, context.target()).probability(), context.top(logits), values,
          tensors ? new FloatTensor(spec.shape(), point.clone()) : null,
          tensors ? new FloatTensor(spec.shape(), Adversarial.difference(context.image(), point))
              : null,
          passes);
    }

    private ExplainEvent.Result result() {
      float[] image = context.image();
      float[] difference = new float[image.length];
      float[] importance = new float[spec.height() * spec.width()];
      Adversarial.accumulate(image, x, 1.0, spec.channels(), difference, importance);
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("flipped", Adversarial.indicator(flipped));
      values.put("l2", Adversarial.l2(image, x));
      values.put("iterations", (double) iterations);
      values.put("margin", margin);
      values.put("step_fraction", searching ? high : 1.0);
      values.put("iteration_bound", Adversarial.indicator(!flipped));
      values.put("untargeted", Adversarial.indicator(goal.untargeted()));
      return new ExplainEvent.Result(Adversarial.maps(spec, x, difference, importance), values,
          List.of(), List.of(), frames, passes, 0);
    }
  }
}
