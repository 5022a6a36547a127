package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.Curve;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.explanation.ExplainEvent.Snapshot;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import dev.salient.server.method.SaliencyTrajectory.Point;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Nonlinear saliency maps (seed 000, Rosenzweig et al.): the image is moved step by step towards
 * the target class, blurring the pixels whose sensitivity is below a rising level and enhancing
 * the others along the gradient, which is recomputed at every step. The trajectory is retraced
 * and its point of highest target probability returned; the masked map paints the blurred pixels
 * in a background colour. {@code mode=linear} freezes the gradient at the input image (the
 * paper's linear saliency map); {@code mode=both} runs the two side by side in the same passes.
 *
 * <p>Choices the paper leaves open, made on Fashion-MNIST training images (see docs/methods/nonlinear.md):
 *
 * <ul>
 *   <li>sensitivity: the gradient of the target's log-probability, by default. It raises the
 *       target and lowers its competitors at once, which is what the trajectory is judged on;
 *       the logit's gradient can raise the competitors with the target. On 300 training images
 *       (runner-up target) it reached 0.95 at least as often as the logit's at every step size
 *       tried (0.90 against 0.88 with the smallest), and sooner (median best step 34 against 52
 *       with 12 steps per level);
 *   <li>level: at each step the sensitivity norm that leaves the schedule's share of the pixels
 *       below it, so each snapshot blurs exactly 0, 5, ... 95 % of the image;
 *   <li>enhancement: {@code x + littleH * g / max|g|}, so {@code littleH} is the largest change of
 *       a pixel per step in units of the pixel range whatever the gradient's scale;
 *   <li>low-pass filter: a Gaussian of {@code blur_sigma} pixels on the engine (truncated at 3
 *       sigma, normalised at the borders), applied to the current image at every step.
 * </ul>
 *
 * <p>Frames: step 0 is the input image, step k the image after k updates. Each pass returns the
 * target probability, gradient and blurred version of the current image, so a trajectory of
 * {@code levels * steps_per_level} updates costs that many passes plus one.
 */
public final class NonlinearSaliency implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("start_probability", ValueType.PROBABILITY,
          "the target's probability at the start of the first trajectory")
      .value("best_probability", ValueType.PROBABILITY,
          "the target's highest probability along the first trajectory")
      .value("best_step", ValueType.COUNT, "the step of that best point")
      .value("best_blurred_fraction", ValueType.FRACTION,
          "the share of pixels blurred at the best point")
      .value("best_level", ValueType.NUMBER, "the blur level at the best point")
      .value("final_probability", ValueType.PROBABILITY,
          "the target's probability at the end of the first trajectory")
      .map("masked", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the best point's image with its blurred pixels in the mask colour")
      .map("image", MapShape.CHANNELS, ColourScale.SEQUENTIAL, "the best point's image")
      .map("salient", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "1 where the best point left the pixel sharp (salient), 0 where it blurred it")
      .value("linear_start_probability", ValueType.PROBABILITY,
          "the target's probability at the start of the second (linear) trajectory",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .value("linear_best_probability", ValueType.PROBABILITY,
          "the target's highest probability along the second (linear) trajectory",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .value("linear_best_step", ValueType.COUNT,
          "the step of that best point",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .value("linear_best_blurred_fraction", ValueType.FRACTION,
          "the share of pixels blurred at the best point",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .value("linear_best_level", ValueType.NUMBER,
          "the blur level at the best point",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .value("linear_final_probability", ValueType.PROBABILITY,
          "the target's probability at the end of the second (linear) trajectory",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .map("linear_masked", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the best point's image with its blurred pixels in the mask colour",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .map("linear_image", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the best point's image",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .map("linear_salient", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "1 where the best point left the pixel sharp (salient), 0 where it blurred it",
          "with mode=both: the linear trajectory, beside the nonlinear one")
      .build();

  /** Which gradient the trajectory follows. */
  public enum Mode {
    /** The gradient recomputed at every step: the nonlinear saliency map. */
    NONLINEAR,
    /** The gradient of the input image at every step: the linear saliency map. */
    LINEAR,
    /** Both trajectories, side by side in the same passes (for the Fig. 3 comparison). */
    BOTH
  }

  static final int MAX_LEVELS = 32;
  static final int MAX_STEPS = 5000;

  static final Parameter<Mode> MODE = Parameter.choice("mode",
      "nonlinear (gradient recomputed each step), linear (gradient of the input image "
          + "throughout) or both (side by side, for comparison)", Mode.NONLINEAR);
  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "sensitivity is the input gradient of this output of the target class",
      Pass.Output.LOG_PROBABILITY);
  static final Parameter<Double> LITTLE_H = Parameter.number("little_h",
      "enhancement step: the largest change of a pixel per step, as a share of the pixel range",
      0.03, 1e-4, 1);
  static final Parameter<Double> BLUR_SIGMA = Parameter.number("blur_sigma",
      "standard deviation of the Gaussian low-pass filter in pixels", 1.0, 0.3, 16);
  static final Parameter<Integer> STEPS_PER_LEVEL = Parameter.integer("steps_per_level",
      "updates at each level", 6, 1, 500);
  static final Parameter<List<Double>> SCHEDULE = Parameter.text("schedule",
      "blurred percentages of the levels, one level each",
      parseSchedule("0,5,10,20,30,50,75,95"),
      "non-decreasing percentages in [0, 100) separated by commas, at most " + MAX_LEVELS
          + " levels, e.g. 0,5,10,20,30,50,75,95",
      NonlinearSaliency::parseSchedule,
      fractions -> String.join(",", fractions.stream()
          .map(f -> Parameter.formatNumber(Math.round(f * 100 * 1e9) / 1e9)).toList()));
  static final Parameter<Double> MASK_COLOUR = Parameter.text("mask_colour",
      "colour of blurred pixels in the masked map", 1.0,
      "white, black, or a share of the pixel range in [0, 1]", NonlinearSaliency::parseShade,
      shade -> shade == 1 ? "white" : shade == 0 ? "black" : Parameter.formatNumber(shade));
  static final List<Parameter<?>> PARAMETERS = List.of(MODE, OUTPUT, LITTLE_H, BLUR_SIGMA,
      STEPS_PER_LEVEL, SCHEDULE, MASK_COLOUR);

  /**
   * Parameters of a nonlinear saliency request.
   *
   * @param mode nonlinear, linear or both
   * @param output the model output whose input gradient is the sensitivity
   * @param littleH largest change of a pixel in one enhancement step, share of the pixel range
   * @param blurSigma standard deviation of the Gaussian low-pass filter, in pixels
   * @param stepsPerLevel updates at each level
   * @param schedule blurred fractions in [0, 1), one level each, non-decreasing
   * @param maskShade the mask colour as a share of the pixel range (1: white, 0: black)
   */
  public record Parameters(Mode mode, Pass.Output output, double littleH, double blurSigma,
      int stepsPerLevel, List<Double> schedule, double maskShade) {

    /** Checks the values (parsing gives clients the messages; this guards direct use). */
    public Parameters {
      schedule = List.copyOf(schedule);
      if (schedule.isEmpty() || schedule.size() > MAX_LEVELS
          || schedule.size() * stepsPerLevel > MAX_STEPS) {
        throw new IllegalArgumentException("bad schedule size");
      }
    }

    static Parameters of(String method, MethodParameters p) {
      int steps = p.get(STEPS_PER_LEVEL);
      List<Double> schedule = p.get(SCHEDULE);
      if (schedule.size() * steps > MAX_STEPS) {
        throw new SalientException.InvalidArgument("method " + method + ": " + schedule.size()
            + " levels of " + steps + " steps exceed " + MAX_STEPS
            + " steps; use fewer steps_per_level or levels");
      }
      return new Parameters(p.get(MODE), p.get(OUTPUT), p.get(LITTLE_H), p.get(BLUR_SIGMA),
          steps, schedule, p.get(MASK_COLOUR));
    }

    /** The mask colour in pixel values. */
    float maskColour(InputSpec spec) {
      return (float) (spec.pixelMin() + maskShade * (spec.pixelMax() - spec.pixelMin()));
    }

  }

  /**
   * None: the trajectory's passes run {@linkplain Pass#runAlone() alone}, so its outputs are the
   * same bit for bit whatever else the worker runs. Its decisions (which pixels each step blurs:
   * a ranking of 784 or more gradient norms, 48 times by default) cannot be kept stable by a
   * tolerance: on the default model, norms at a level's cut tie within float rounding in 4 of
   * 24 held-out requests, one pixel changes side and the trajectory goes elsewhere.
   */
  static final BatchTolerance TOLERANCE = new BatchTolerance(0, 0, Set.of(), Set.of());

  /** The method's name in requests. */
  public static final String NAME = "nonlinear";

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
    return TOLERANCE;
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.NONLINEAR;
  }

  @Override
  public String description() {
    return "Nonlinear saliency trajectory (Rosenzweig et al.): blur below a rising sensitivity "
        + "level, enhance along the recomputed gradient; linear variant and both side by side";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(NAME, p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  /**
   * The trajectories of one request (one, or two for {@code mode=both}), advanced together: one
   * pass per step carries every trajectory's current image.
   */
  static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final List<SaliencyTrajectory> trajectories = new ArrayList<>();
    private final List<String> names = new ArrayList<>();
    private int passes = 1;
    private boolean done;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      if (parameters.mode() != Mode.LINEAR) {
        add("nonlinear", false);
      }
      if (parameters.mode() != Mode.NONLINEAR) {
        add("linear", true);
      }
    }

    private void add(String name, boolean frozen) {
      names.add(name);
      trajectories.add(new SaliencyTrajectory(context.model().input(), context.image(),
          context.target(), frozen, parameters.littleH(), parameters.stepsPerLevel(),
          parameters.schedule()));
    }

    /** The trajectories: the primary (nonlinear unless {@code mode=linear}) first. */
    List<SaliencyTrajectory> trajectories() {
      return List.copyOf(trajectories);
    }

    /** Whether every trajectory has reached its last point. */
    boolean trajectoriesFinished() {
      return trajectories.get(0).finished();
    }

    /** Model passes used so far, counted per image, the request's first pass included. */
    int passes() {
      return passes;
    }

    @Override
    public Pass nextPass() {
      if (done) {
        return null;
      }
      List<float[]> images = trajectories.stream().map(SaliencyTrajectory::image).toList();
      boolean gradient = trajectories.stream().anyMatch(SaliencyTrajectory::needsGradient);
      int[] targets = new int[images.size()];
      java.util.Arrays.fill(targets, context.target());
      Pass pass = gradient
          ? Pass.gradient(images, parameters.output(), targets, context.model().numClasses())
          : Pass.forward(images);
      // Alone: the blurred sets rank gradient norms, whose float rounding depends on the call's
      // batch shape (see TOLERANCE).
      return pass.with(new Pass.Extras((float) parameters.blurSigma())).runAlone();
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      if (done) {
        throw new IllegalStateException("the run has finished");
      }
      passes += result.logits().size();
      List<Point> points = new ArrayList<>();
      for (int i = 0; i < trajectories.size(); i++) {
        float[] gradient = result.gradients() == null ? null : result.gradients().get(i);
        points.add(trajectories.get(i).advance(result.logits().get(i), gradient,
            result.blurred().get(i)));
      }
      List<ExplainEvent> events = new ArrayList<>();
      events.add(frame(points));
      if (trajectoriesFinished()) {
        done = true;
        events.add(result());
      }
      return events;
    }

    private ExplainEvent.Frame frame(List<Point> points) {
      Point p = points.get(0);
      Map<String, Double> values = new LinkedHashMap<>();
      putPoint(values, "", p);
      for (int i = 1; i < points.size(); i++) {
        values.put(names.get(i) + "_target_probability",
            (double) points.get(i).targetProbability());
        putPoint(values, names.get(i) + "_", points.get(i));
      }
      boolean tensors = context.frames().tensors();
      InputSpec spec = context.model().input();
      return new ExplainEvent.Frame(p.step(), p.step() == 0 ? "input" : percent(p),
          p.targetProbability(), context.top(p.logits()), values,
          tensors ? new FloatTensor(spec.shape(), p.image()) : null,
          tensors ? new FloatTensor(spec.shape(), masked(p)) : null, passes);
    }

    private static void putPoint(Map<String, Double> values, String prefix, Point p) {
      values.put(prefix + "blurred_fraction", p.blurredFraction());
      values.put(prefix + "level", p.level());
      values.put(prefix + "level_index", (double) p.levelIndex());
    }

    /** The result event of the finished trajectories. */
    ExplainEvent.Result result() {
      List<SaliencyMap> maps = new ArrayList<>();
      Map<String, Double> values = new LinkedHashMap<>();
      List<Curve> curves = new ArrayList<>();
      List<Snapshot> snapshots = new ArrayList<>();
      for (int i = 0; i < trajectories.size(); i++) {
        SaliencyTrajectory t = trajectories.get(i);
        String prefix = i == 0 ? "" : names.get(i) + "_";
        Point best = t.best();
        maps.addAll(pointMaps(prefix, best));
        values.put(prefix + "start_probability", (double) t.startProbability());
        values.put(prefix + "best_probability", (double) best.targetProbability());
        values.put(prefix + "best_step", (double) best.step());
        values.put(prefix + "best_blurred_fraction", best.blurredFraction());
        values.put(prefix + "best_level", best.level());
        values.put(prefix + "final_probability", (double) t.lastProbability());
        curves.add(new Curve(prefix + "trajectory", "% of pixels blurred", "target probability",
            t.curveFractions(100), t.curveProbabilities()));
        curves.add(new Curve(prefix + "probability_by_step", "step", "target probability",
            t.curveSteps(), t.curveProbabilities()));
        for (Point s : t.snapshots()) {
          Map<String, Double> snapshotValues = new LinkedHashMap<>();
          snapshotValues.put("blurred_fraction", s.blurredFraction());
          snapshotValues.put("target_probability", (double) s.targetProbability());
          snapshotValues.put("level", s.level());
          snapshots.add(new Snapshot(names.get(i) + " " + percent(s), s.step(), snapshotValues,
              pointMaps("", s)));
        }
      }
      return new ExplainEvent.Result(maps, values, curves, snapshots,
          trajectories.get(0).totalSteps(), passes, 0);
    }

    /** The image, masked map and salient-pixel map of {@code p}. */
    private List<SaliencyMap> pointMaps(String prefix, Point p) {
      InputSpec spec = context.model().input();
      float[] salient = new float[p.blurred().length];
      for (int i = 0; i < salient.length; i++) {
        salient[i] = p.blurred()[i] ? 0f : 1f;
      }
      return List.of(
          new SaliencyMap(prefix + "masked", new FloatTensor(spec.shape(), masked(p)),
              ColourScale.SEQUENTIAL),
          new SaliencyMap(prefix + "image", new FloatTensor(spec.shape(), p.image()),
              ColourScale.SEQUENTIAL),
          new SaliencyMap(prefix + "salient",
              new FloatTensor(new long[] {spec.height(), spec.width()}, salient),
              ColourScale.SEQUENTIAL));
    }

    private float[] masked(Point p) {
      return SaliencyTrajectory.masked(p.image(), p.blurred(),
          parameters.maskColour(context.model().input()));
    }

    private static String percent(Point p) {
      double pct = p.blurredFraction() * 100;
      return (pct == Math.rint(pct) ? Long.toString(Math.round(pct))
          : String.format(Locale.ROOT, "%.1f", pct)) + "%";
    }
  }

  private static List<Double> parseSchedule(String text) {
    List<Double> fractions = new ArrayList<>();
    double previous = 0;
    for (String part : text.split(",")) {
      double percent = Double.parseDouble(part.trim());
      if (!(percent >= previous && percent < 100)) {
        throw new IllegalArgumentException();
      }
      previous = percent;
      fractions.add(percent / 100);
    }
    if (fractions.size() > MAX_LEVELS) {
      throw new IllegalArgumentException(fractions.size() + " levels");
    }
    return fractions;
  }

  private static double parseShade(String text) {
    String value = text.trim().toLowerCase(Locale.ROOT);
    if (value.equals("white")) {
      return 1;
    }
    if (value.equals("black")) {
      return 0;
    }
    double shade = Double.parseDouble(value);
    if (!(shade >= 0 && shade <= 1)) {
      throw new IllegalArgumentException();
    }
    return shade;
  }
}
