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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Occlusion sensitivity (Zeiler and Fergus 2014, section 4.2): a square patch slides over the
 * image, each position replaced with a {@link DeletionFill} (grey by default, as in the paper),
 * and the map at a pixel is the drop in the target's probability, {@code p(x) - p(x occluded)},
 * averaged over the patch positions that cover the pixel. Positive: the region is evidence for the
 * class; negative: hiding it makes the class more likely.
 *
 * <p>Forward passes only, so it explains every model. Positions run on a grid of {@code stride}
 * from the top-left corner, with one more row and column flush with the bottom and right edges
 * when the stride does not land there, so every pixel is covered. The occluded images go to the
 * engine {@code batch} at a time, one frame per pass with the map so far. {@code p(x)} is the
 * job's first pass. The positions depend only on the image size and the parameters.
 */
public final class Occlusion implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("patch", ValueType.COUNT, "the patch's side, in pixels")
      .value("stride", ValueType.COUNT, "the patch's step, in pixels")
      .value("positions", ValueType.COUNT, "the patch positions tried")
      .value("largest_drop", ValueType.NUMBER,
          "the largest drop of the target's probability under a patch")
      .value("smallest_drop", ValueType.NUMBER, "the smallest drop (negative: a patch raised it)")
      .map("occlusion", MapShape.PIXELS, ColourScale.DIVERGING,
          "per pixel, the mean drop of the target's probability over the patches covering it")
      .build();

  static final Parameter<Integer> PATCH = Parameter.integer("patch",
      "side of the square patch in pixels (at most the image's side); 0: a seventh of the "
          + "shorter side, at least 1 (4 on 28 x 28, 32 on 224 x 224)", 0, 0, 4096);
  static final Parameter<Integer> STRIDE = Parameter.integer("stride",
      "pixels between patch positions; 0: half the patch, at least 1", 0, 0, 4096);
  static final Parameter<DeletionFill> FILL = Parameter.choice("fill",
      "what replaces the patch: black, white, grey (the paper's), mean (the patch's own mean), "
          + "blur or inverse (min + max - x)", DeletionFill.GREY);
  static final Parameter<Double> BLUR_SIGMA = Parameter.number("blur_sigma",
      "with fill=blur: Gaussian standard deviation in pixels", 4, 0.5, 64);
  static final Parameter<Integer> BATCH = Parameter.integer("batch",
      "occluded images per engine pass, one frame each", 64, 1, 1024);
  static final List<Parameter<?>> PARAMETERS = List.of(PATCH, STRIDE, FILL, BLUR_SIGMA, BATCH);

  /** Parameters of an occlusion request. */
  public record Parameters(int patch, int stride, DeletionFill fill, double blurSigma,
      int batch) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(PATCH), p.get(STRIDE), p.get(FILL), p.get(BLUR_SIGMA),
          p.get(BATCH));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "occlusion";

  @Override
  public String name() {
    return NAME;
  }

  /**
   * Its samples (or patch positions) and superpixels depend only on the image, the parameters
   * and the seed; only the probabilities carry the engine's rounding.
   */
  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-4, 1e-4, Set.of("patch", "stride", "positions"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Drop in the target's probability when a sliding patch hides each region (Zeiler and "
        + "Fergus); forward passes only";
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

  /** The patch side used on an image of {@code height} x {@code width}. */
  static int patchSide(int requested, int height, int width) {
    int shorter = Math.min(height, width);
    return requested == 0 ? Math.max(1, Math.round(shorter / 7f)) : Math.min(requested, shorter);
  }

  /** Patch offsets along an axis of {@code length}: every {@code stride}, the last flush. */
  static List<Integer> offsets(int length, int patch, int stride) {
    List<Integer> offsets = new ArrayList<>();
    for (int o = 0; o + patch <= length; o += stride) {
      offsets.add(o);
    }
    if (offsets.get(offsets.size() - 1) + patch < length) {
      offsets.add(length - patch);
    }
    return offsets;
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final InputSpec spec;
    private final int patch;
    private final int stride;
    private final List<int[]> positions = new ArrayList<>();
    private final double[] dropSum;
    private final int[] cover;
    private final double original;
    private float[] blurred;
    private Pass pending;
    private int done;
    private int step;
    private double largestDrop = Double.NEGATIVE_INFINITY;
    private double smallestDrop = Double.POSITIVE_INFINITY;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      this.patch = patchSide(parameters.patch(), spec.height(), spec.width());
      this.stride = parameters.stride() == 0 ? Math.max(1, patch / 2) : parameters.stride();
      for (int y : offsets(spec.height(), patch, stride)) {
        for (int x : offsets(spec.width(), patch, stride)) {
          positions.add(new int[] {y, x});
        }
      }
      int plane = spec.height() * spec.width();
      this.dropSum = new double[plane];
      this.cover = new int[plane];
      this.original = context.probabilities()[context.target()];
    }

    private boolean needsBlur() {
      return parameters.fill() == DeletionFill.BLUR && blurred == null;
    }

    @Override
    public Pass nextPass() {
      if (needsBlur()) {
        return Pass.forward(List.of(context.image()))
            .with(new Pass.Extras((float) parameters.blurSigma()));
      }
      if (done >= positions.size()) {
        return null;
      }
      if (pending == null) {
        int n = Math.min(parameters.batch(), positions.size() - done);
        List<float[]> images = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          images.add(occluded(positions.get(done + i)));
        }
        pending = Pass.forward(images);
      }
      return pending;
    }

    private float[] occluded(int[] position) {
      int[] region = patchRegion(position);
      return parameters.fill().deleteRegions(context.image(), spec.channels(), region, 1,
          spec.pixelMin(), spec.pixelMax(), blurred);
    }

    private int[] patchRegion(int[] position) {
      int width = spec.width();
      int[] region = new int[spec.height() * width];
      Arrays.fill(region, -1);
      for (int y = position[0]; y < position[0] + patch; y++) {
        Arrays.fill(region, y * width + position[1], y * width + position[1] + patch, 0);
      }
      return region;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      if (needsBlur()) {
        blurred = result.blurred().get(0);
        return List.of();
      }
      pending = null;
      int width = spec.width();
      int n = result.logits().size();
      double batchProbability = 0;
      for (int i = 0; i < n; i++) {
        int[] position = positions.get(done + i);
        double p = result.probabilities(i)[context.target()];
        batchProbability += p;
        double drop = original - p;
        largestDrop = Math.max(largestDrop, drop);
        smallestDrop = Math.min(smallestDrop, drop);
        for (int y = position[0]; y < position[0] + patch; y++) {
          for (int x = position[1]; x < position[1] + patch; x++) {
            dropSum[y * width + x] += drop;
            cover[y * width + x]++;
          }
        }
      }
      done += n;
      step++;
      float[] map = new float[dropSum.length];
      for (int p = 0; p < map.length; p++) {
        map[p] = cover[p] == 0 ? 0f : (float) (dropSum[p] / cover[p]);
      }
      FloatTensor mapTensor = GradientMaps.pixelMap(spec, map);
      float[] lastLogits = result.logits().get(n - 1);
      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("positions_done", (double) done);
      frameValues.put("positions", (double) positions.size());
      frameValues.put("largest_drop", largestDrop);
      List<ExplainEvent> events = new ArrayList<>();
      // The frame's probability: the mean over this pass's occluded images.
      events.add(new ExplainEvent.Frame(step, "occlusion", (float) (batchProbability / n),
          context.top(lastLogits), frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? mapTensor : null, passesSoFar()));
      if (done < positions.size()) {
        return events;
      }
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", original);
      values.put("patch", (double) patch);
      values.put("stride", (double) stride);
      values.put("positions", (double) positions.size());
      values.put("largest_drop", largestDrop);
      values.put("smallest_drop", smallestDrop);
      events.add(new ExplainEvent.Result(
          List.of(new SaliencyMap("occlusion", mapTensor, ColourScale.DIVERGING)),
          values, List.of(), List.of(), step, passesSoFar(), 0));
      return events;
    }

    private int passesSoFar() {
      return 1 + (parameters.fill() == DeletionFill.BLUR ? 1 : 0) + done;
    }
  }
}
