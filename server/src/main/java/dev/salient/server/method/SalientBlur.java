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
import dev.salient.server.method.SaliencyTrajectory.Point;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The check of seed 000's Fig. 4: how the target's probability moves when the pixels that its
 * nonlinear saliency map keeps at the last level (the 95 %-salient pixels by default) are
 * low-pass filtered in the input image and the rest is left alone. It runs the nonlinear
 * trajectory with the same parameters and frames, then one forward pass of the selectively
 * blurred input. The filter is the trajectory's: one Gaussian of {@code blur_sigma} pixels.
 */
public final class SalientBlur implements ExplanationMethod {
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
      .value("salient_fraction", ValueType.FRACTION,
          "the share of pixels the first trajectory found salient")
      .value("probability_before_blur", ValueType.PROBABILITY,
          "the target's probability at the image")
      .value("probability_after_blur", ValueType.PROBABILITY,
          "the target's probability with only the salient pixels blurred")
      .value("probability_change", ValueType.NUMBER, "after minus before")
      .map("salient_blurred", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the image with only its salient pixels blurred")
      .value("linear_salient_fraction", ValueType.FRACTION,
          "the same for the linear trajectory",
          "with mode=both")
      .value("linear_probability_before_blur", ValueType.PROBABILITY,
          "the same for the linear trajectory",
          "with mode=both")
      .value("linear_probability_after_blur", ValueType.PROBABILITY,
          "the same for the linear trajectory",
          "with mode=both")
      .value("linear_probability_change", ValueType.NUMBER,
          "the same for the linear trajectory",
          "with mode=both")
      .map("linear_salient_blurred", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the same for the linear trajectory",
          "with mode=both")
      .build();

  /**
   * The trajectory's, which runs alone (see {@link NonlinearSaliency#TOLERANCE}): its maps and
   * values, the blurred sets among them, are exact. The probabilities before and after the blur
   * come from the request's first pass and the check pass, which share calls.
   */
  static final BatchTolerance TOLERANCE = new BatchTolerance(0, 1e-5,
      Set.of("best_step", "salient_fraction", "linear_best_step", "linear_salient_fraction"),
      Set.of());

  /** The method's name in requests. */
  public static final String NAME = "blur_salient";

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
    return "Fig. 4 check: blur the input's nonlinearly salient pixels (those kept at the last "
        + "level of the nonlinear trajectory) and report how the target's probability moves";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return NonlinearSaliency.PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, NonlinearSaliency.PARAMETERS);
    NonlinearSaliency.Parameters parameters = NonlinearSaliency.Parameters.of(NAME, p);
    return new Prepared(p.effective(),
        context -> new Run(context, new NonlinearSaliency.Run(context, parameters)));
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final NonlinearSaliency.Run trajectories;
    private ExplainEvent.Result trajectoryResult;
    private List<float[]> checkImages;
    private List<boolean[]> salientPixels;
    private boolean done;

    Run(MethodContext context, NonlinearSaliency.Run trajectories) {
      this.context = context;
      this.trajectories = trajectories;
    }

    @Override
    public Pass nextPass() {
      if (done) {
        return null;
      }
      if (trajectoryResult == null) {
        return trajectories.nextPass();
      }
      return Pass.forward(checkImages);
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      if (done) {
        throw new IllegalStateException("the run has finished");
      }
      if (trajectoryResult == null) {
        List<ExplainEvent> events = new ArrayList<>(trajectories.onPassResult(result));
        if (events.get(events.size() - 1) instanceof ExplainEvent.Result r) {
          events.remove(events.size() - 1);
          trajectoryResult = r;
          prepareCheck();
        }
        return events;
      }
      done = true;
      return List.of(checkResult(result));
    }

    /** Each trajectory's input with the pixels its last level kept replaced by their blur. */
    private void prepareCheck() {
      checkImages = new ArrayList<>();
      salientPixels = new ArrayList<>();
      for (SaliencyTrajectory t : trajectories.trajectories()) {
        List<Point> snapshots = t.snapshots();
        boolean[] blurred = snapshots.get(snapshots.size() - 1).blurred();
        boolean[] salient = new boolean[blurred.length];
        for (int p = 0; p < salient.length; p++) {
          salient[p] = !blurred[p];
        }
        salientPixels.add(salient);
        checkImages.add(blurPixels(context.image(), t.blurredStart(), salient));
      }
    }

    private ExplainEvent.Result checkResult(PassResult result) {
      InputSpec spec = context.model().input();
      Map<String, Double> values = new LinkedHashMap<>(trajectoryResult.values());
      List<SaliencyMap> maps = new ArrayList<>(trajectoryResult.maps());
      float before = context.probabilities()[context.target()];
      for (int i = 0; i < checkImages.size(); i++) {
        String prefix = i == 0 ? "" : "linear_";
        float after = result.probabilities(i)[context.target()];
        int count = 0;
        for (boolean s : salientPixels.get(i)) {
          count += s ? 1 : 0;
        }
        values.put(prefix + "salient_fraction", count / (double) salientPixels.get(i).length);
        values.put(prefix + "probability_before_blur", (double) before);
        values.put(prefix + "probability_after_blur", (double) after);
        values.put(prefix + "probability_change", (double) after - before);
        maps.add(new SaliencyMap(prefix + "salient_blurred",
            new FloatTensor(spec.shape(), checkImages.get(i)), ColourScale.SEQUENTIAL));
      }
      return new ExplainEvent.Result(maps, values, trajectoryResult.curves(),
          trajectoryResult.snapshots(), trajectoryResult.steps(),
          trajectories.passes() + checkImages.size(), 0);
    }
  }

  /** {@code image} with the {@code chosen} pixels (all channels) taken from {@code blurred}. */
  static float[] blurPixels(float[] image, float[] blurred, boolean[] chosen) {
    float[] out = image.clone();
    int pixels = chosen.length;
    for (int i = 0; i < out.length; i++) {
      if (chosen[i % pixels]) {
        out[i] = blurred[i];
      }
    }
    return out;
  }
}
