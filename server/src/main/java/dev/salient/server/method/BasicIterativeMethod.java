package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The basic iterative method (seed 004, "The Basic Iterative Method"; Kurakin et al. 2017): FGSM
 * in small steps, {@code x_{n+1} = Clip(x_n + alpha * sign(∇ objective(x_n)))}, the gradient
 * recomputed at every step, stopping at the first iterate that reaches the goal.
 *
 * <p>The objective is that of {@link FastGradientSign} (cross-entropy of P raised, or of the
 * target lowered). Clip keeps every pixel in the model's pixel range, as the seed's Clip keeps
 * [0, 255], and within {@code epsilon} of the original pixel (Kurakin et al.'s eps-ball; the
 * default 1.0 leaves only the pixel range). {@code alpha} and {@code epsilon} are fractions of the
 * pixel range: the default alpha 1/255 is the seed's "alpha = 1" on a 0..255 scale. Stopping at
 * the first success keeps the perturbation as small as this step size allows.
 */
public final class BasicIterativeMethod implements ExplanationMethod {

  /** The method's name in requests. */
  public static final String NAME = "bim";

  static final Parameter<Double> ALPHA = Parameter.number("alpha",
      "step size, as a fraction of the pixel range", 0.004, 1e-6, 1);
  static final Parameter<Double> EPSILON = Parameter.number("epsilon",
      "largest change of any pixel, as a fraction of the pixel range", 1.0, 1e-6, 1);
  static final Parameter<Integer> MAX_ITERATIONS = Parameter.integer("max_iterations",
      "bound on the steps", 200, 1, 10_000);
  static final Parameter<Boolean> UNTARGETED = Adversarial.untargeted();
  static final List<Parameter<?>> PARAMETERS =
      List.of(ALPHA, EPSILON, MAX_ITERATIONS, UNTARGETED);

  /** Parameters of a BIM request. */
  public record Parameters(double alpha, double epsilon, int maxIterations, boolean untargeted) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(ALPHA), p.get(EPSILON), p.get(MAX_ITERATIONS),
          p.get(UNTARGETED));
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
    return "Basic iterative method: clipped steps alpha sign(grad loss) until the class flips "
        + "(Kurakin et al.)";
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
    private float[] x;
    private int iterations;
    private int passes = 1;
    private double margin;
    private boolean flipped;
    private boolean finished;
    private Pass pass;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      int predicted = Adversarial.predicted(context.logits());
      boolean untargeted = parameters.untargeted() || context.target() == predicted;
      this.goal = new Adversarial.Goal(predicted, context.target(), untargeted);
      this.weights = FastGradientSign.lossWeights(goal, context.model().numClasses());
      this.x = context.image().clone();
    }

    @Override
    public Pass nextPass() {
      if (finished) {
        return null;
      }
      if (pass == null) {
        pass = new Pass(List.of(x),
            new Pass.Objective(Pass.Output.LOG_PROBABILITY, List.of(weights)));
      }
      return pass;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      passes += pass.size();
      pass = null;
      float[] logits = result.logits().get(0);
      margin = goal.margin(logits);
      ExplainEvent frame = frame(logits);
      if (margin < 0 || iterations >= parameters.maxIterations()) {
        flipped = margin < 0;
        finished = true;
        return List.of(frame, result());
      }
      step(FastGradientSign.signOf(result.gradients().get(0)));
      return List.of(frame);
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

    private ExplainEvent frame(float[] logits) {
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("competitor", (double) goal.heading(logits));
      values.put("iteration", (double) iterations);
      values.put("distance", Adversarial.l2(context.image(), x));
      values.put("margin", margin);
      boolean tensors = context.frames().tensors();
      return new ExplainEvent.Frame(iterations + 1, iterations == 0 ? "start" : "step",
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
      Adversarial.accumulate(image, x, 1.0, spec.channels(), difference, importance);
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("flipped", Adversarial.indicator(flipped));
      values.put("l2", Adversarial.l2(image, x));
      values.put("iterations", (double) iterations);
      values.put("margin", margin);
      values.put("iteration_bound", Adversarial.indicator(!flipped));
      values.put("untargeted", Adversarial.indicator(goal.untargeted()));
      return new ExplainEvent.Result(Adversarial.maps(spec, x, difference, importance), values,
          List.of(), List.of(), iterations + 1, passes, 0);
    }
  }
}
