package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.method.ExplainEvent.Curve;
import dev.salient.server.method.ExplainEvent.FloatTensor;
import dev.salient.server.method.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ExplainEvent.Snapshot;
import dev.salient.server.method.SaliencyTrajectory.Point;
import dev.salient.server.render.ColourScale;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Nonlinear saliency maps (seed 000, Rosenzweig et al.): the image is moved step by step towards
 * the target class, blurring the pixels whose sensitivity is below a rising level and enhancing
 * the others along the gradient, which is recomputed at every step. The trajectory is retraced
 * and its point of highest target probability returned; the masked map paints the blurred pixels
 * in a background colour. {@code mode=linear} freezes the gradient at the input image (the
 * paper's linear saliency map); {@code mode=both} runs the two side by side in the same passes.
 *
 * <p>Choices the paper leaves open, made on Fashion-MNIST training images (see README):
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

  /** Which gradient the trajectory follows. */
  public enum Mode {
    /** The gradient recomputed at every step: the nonlinear saliency map. */
    NONLINEAR,
    /** The gradient of the input image at every step: the linear saliency map. */
    LINEAR,
    /** Both trajectories, side by side in the same passes (for the Fig. 3 comparison). */
    BOTH
  }

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

    static final int MAX_LEVELS = 32;
    static final int MAX_STEPS = 5000;

    static final List<ParameterSpec> SPECS =
        List.of(
            new ParameterSpec("mode",
                "nonlinear (gradient recomputed each step), linear (gradient of the input image "
                    + "throughout) or both (side by side, for comparison)", "nonlinear"),
            new ParameterSpec("output",
                "sensitivity is the input gradient of this output of the target class: "
                    + "log_probability, logit or probability", "log_probability"),
            new ParameterSpec("little_h",
                "enhancement step: the largest change of a pixel per step, as a share of the "
                    + "pixel range, in [0.0001, 1]", "0.03"),
            new ParameterSpec("blur_sigma",
                "standard deviation of the Gaussian low-pass filter in pixels, in [0.3, 16]",
                "1.0"),
            new ParameterSpec("steps_per_level", "updates at each level, in [1, 500]", "6"),
            new ParameterSpec("schedule",
                "blurred percentages of the levels, comma-separated, non-decreasing, each in "
                    + "[0, 100)", "0,5,10,20,30,50,75,95"),
            new ParameterSpec("mask_colour",
                "colour of blurred pixels in the masked map: white, black, or a share of the "
                    + "pixel range in [0, 1]", "white"));

    /** Checks the values (parse gives clients the messages; this guards direct use). */
    public Parameters {
      schedule = List.copyOf(schedule);
      if (schedule.isEmpty() || schedule.size() > MAX_LEVELS
          || schedule.size() * stepsPerLevel > MAX_STEPS) {
        throw new IllegalArgumentException("bad schedule size");
      }
    }

    static Parameters parse(String method, Map<String, String> raw) {
      MethodParameters p = new MethodParameters(method, raw, SPECS);
      int steps = p.integer("steps_per_level", 1, 500);
      List<Double> schedule = parseSchedule(method, p.string("schedule"));
      if (schedule.size() * steps > MAX_STEPS) {
        throw new SalientException.InvalidArgument("method " + method + ": " + schedule.size()
            + " levels of " + steps + " steps exceed " + MAX_STEPS
            + " steps; use fewer steps_per_level or levels");
      }
      return new Parameters(p.choice("mode", Mode.class), p.choice("output", Pass.Output.class),
          p.number("little_h", 1e-4, 1), p.number("blur_sigma", 0.3, 16), steps, schedule,
          parseShade(method, p.string("mask_colour")));
    }

    private static List<Double> parseSchedule(String method, String text) {
      String[] parts = text.split(",");
      List<Double> fractions = new ArrayList<>();
      double previous = 0;
      for (String part : parts) {
        double percent;
        try {
          percent = Double.parseDouble(part.trim());
        } catch (NumberFormatException e) {
          percent = Double.NaN;
        }
        if (!(percent >= previous && percent < 100)) {
          throw new SalientException.InvalidArgument("method " + method + ": parameter schedule=\""
              + text + "\" is invalid; use non-decreasing percentages in [0, 100) separated by "
              + "commas, e.g. 0,5,10,20,30,50,75,95");
        }
        previous = percent;
        fractions.add(percent / 100);
      }
      if (fractions.size() > MAX_LEVELS) {
        throw new SalientException.InvalidArgument("method " + method + ": parameter schedule "
            + "has " + fractions.size() + " levels; use at most " + MAX_LEVELS);
      }
      return fractions;
    }

    private static double parseShade(String method, String text) {
      String value = text.trim().toLowerCase(Locale.ROOT);
      if (value.equals("white")) {
        return 1;
      }
      if (value.equals("black")) {
        return 0;
      }
      try {
        double shade = Double.parseDouble(value);
        if (shade >= 0 && shade <= 1) {
          return shade;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new SalientException.InvalidArgument("method " + method + ": parameter mask_colour=\""
          + text + "\" is invalid; use white, black or a number in [0, 1]");
    }

    Map<String, String> asMap() {
      Map<String, String> m = new LinkedHashMap<>();
      m.put("mode", mode.name().toLowerCase(Locale.ROOT));
      m.put("output", output.name().toLowerCase(Locale.ROOT));
      m.put("little_h", number(littleH));
      m.put("blur_sigma", number(blurSigma));
      m.put("steps_per_level", Integer.toString(stepsPerLevel));
      m.put("schedule", String.join(",", schedule.stream().map(f -> number(f * 100)).toList()));
      m.put("mask_colour", maskShade == 1 ? "white" : maskShade == 0 ? "black" : number(maskShade));
      return m;
    }

    /** The mask colour in pixel values. */
    float maskColour(InputSpec spec) {
      return (float) (spec.pixelMin() + maskShade * (spec.pixelMax() - spec.pixelMin()));
    }

    private static String number(double v) {
      return v == Math.rint(v) && Math.abs(v) < 1e9
          ? Long.toString((long) v) : Double.toString(v);
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "nonlinear";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "Nonlinear saliency trajectory (Rosenzweig et al.): blur below a rising sensitivity "
        + "level, enhance along the recomputed gradient; linear variant and both side by side";
  }

  @Override
  public List<ParameterSpec> parameters() {
    return Parameters.SPECS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    Parameters parameters = Parameters.parse(NAME, raw);
    return new Prepared(parameters.asMap(), context -> new Run(context, parameters));
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
      return pass.with(new Pass.Extras((float) parameters.blurSigma()));
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
}
