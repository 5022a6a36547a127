package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
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
 * VisualBackProp (Bojarski et al. 2017; seed 002, "VisualBackProp"): the feature maps after each
 * ReLU of the convolutional part are averaged over their channels; the deepest average is scaled
 * up to the resolution of the one before by a transposed convolution with unit weights (all ones,
 * no bias) of the kernel size and stride of each layer in between, multiplied point-wise with
 * that average, and so on down to the input, whose resolution the last scaling-up reaches. A
 * max-pooling layer in between is scaled up as a convolution of its window, stride and padding;
 * a ReLU, batch normalisation or flatten passes the map on ({@link #sweep} says how a residual
 * network is followed). No gradient and no class: the map shows which pixels can still reach the
 * deepest feature maps.
 */
public final class VisualBackprop implements ExplanationMethod {

  /** The method's name in requests. */
  public static final String NAME = "visual_backprop";

  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("map_max_layer_<n>", ValueType.NUMBER,
          "the largest value of the map at the level of ReLU layer n", "one per feature level")
      .value("feature_levels", ValueType.COUNT, "the ReLU layers over feature maps")
      .value("map_max", ValueType.NUMBER, "the largest value of the map")
      .map(NAME, MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "the products of the scaled-up channel means, at the input's resolution")
      .build();

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "Channel-averaged feature maps, scaled up by unit-weight transposed convolutions "
        + "and multiplied layer by layer (VisualBackProp, Bojarski et al.); walkable models only";
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public List<Parameter<?>> parameters() {
    return List.of();
  }

  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-4, 1e-4, Set.of("feature_levels"), Set.of());
  }

  @Override
  public boolean supports(ModelPackage model) {
    return LayerWalkRun.supported(model, LayerWalkRun.ALL_KINDS);
  }

  @Override
  public String requirement() {
    return LayerWalkRun.REQUIREMENT;
  }

  @Override
  public String requirement(ModelPackage model) {
    return LayerWalkRun.requirement(model, name(), LayerWalkRun.ALL_KINDS);
  }

  @Override
  public boolean explainsVideo() {
    return true;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, List.of());
    return new Prepared(p.effective(), Run::new);
  }

  /**
   * One level of the sweep: after the ReLU at layer {@code layer}, the map so far ({@code map},
   * of {@code height x width}).
   */
  record Level(int layer, double[] map, int height, int width) {}

  /**
   * The levels, deepest first, and the final map at the input's resolution last. The levels are
   * the spatial ReLUs on the main path: those whose output every later layer's reads lie at or
   * after (in a sequence, every one; in ResNet-18 the stem's and each residual block's output
   * ReLU, not the ReLU inside a block's branch, which the shortcut bypasses). From one level to
   * the one below, the map is scaled up through the layers between them along each layer's
   * first input: a residual block through its main branch (the addition reads it first), so a
   * stride-2 block scales up by the unit kernels of its 3x3 stride-2 and 3x3 convolutions.
   */
  static List<Level> sweep(LayerWalk walk) {
    Set<Integer> levels = mainPathLevels(walk);
    if (levels.isEmpty()) {
      throw new IllegalArgumentException("the walk has no ReLU over feature maps");
    }
    List<Level> out = new ArrayList<>();
    int deepest = levels.stream().mapToInt(Integer::intValue).max().getAsInt();
    int[] shape = ((LayerWalk.Relu) walk.layers().get(deepest)).shape();
    double[] map = channelMean(walk.output(deepest), shape);
    out.add(new Level(deepest, map, shape[1], shape[2]));
    int h = shape[1];
    int w = shape[2];
    int i = deepest;
    while (true) {
      LayerWalk.Layer layer = walk.layers().get(i);
      // Here the map has the resolution of layer i's output.
      if (i != deepest && levels.contains(i)) {
        int[] s = ((LayerWalk.Relu) layer).shape();
        double[] mean = channelMean(walk.output(i), s);
        for (int k = 0; k < map.length; k++) {
          map[k] *= mean[k];
        }
        out.add(new Level(i, map.clone(), h, w));
      }
      LayerWalk.Conv unit = unitScaleUp(layer, h, w);
      if (unit != null) {
        map = LayerOps.convTranspose(unit, unit.weight(), map);
        h = unit.in()[1];
        w = unit.in()[2];
      }
      int below = walk.reads().get(i)[0];
      if (below == 0) {
        break;
      }
      i = below - 1;
    }
    out.add(new Level(-1, map, h, w));
    return out;
  }

  /**
   * The spatial ReLUs {@code i} whose output no later layer reaches past: every layer after
   * {@code i} reads activations {@code >= i + 1}.
   */
  static Set<Integer> mainPathLevels(LayerWalk walk) {
    int layers = walk.layers().size();
    Set<Integer> levels = new java.util.TreeSet<>();
    int lowestReadAfter = Integer.MAX_VALUE;
    for (int i = layers - 1; i >= 0; i--) {
      if (walk.layers().get(i) instanceof LayerWalk.Relu relu && relu.spatial()
          && lowestReadAfter >= i + 1) {
        levels.add(i);
      }
      for (int a : walk.reads().get(i)) {
        lowestReadAfter = Math.min(lowestReadAfter, a);
      }
    }
    return levels;
  }

  /**
   * The transposed convolution with unit weights that scales a one-channel {@code h x w} map at
   * {@code layer}'s output up to its input: the layer's own kernel size, stride and padding.
   * Null for layers that keep the map as it is.
   */
  static LayerWalk.Conv unitScaleUp(LayerWalk.Layer layer, int h, int w) {
    if (layer instanceof LayerWalk.Conv c) {
      float[] ones = new float[c.kernelHeight() * c.kernelWidth()];
      Arrays.fill(ones, 1f);
      return new LayerWalk.Conv(ones, new float[1], c.kernelHeight(), c.kernelWidth(),
          c.stride(), c.padding(), new int[] {1, c.in()[1], c.in()[2]}, new int[] {1, h, w});
    }
    if (layer instanceof LayerWalk.MaxPool p) {
      float[] ones = new float[p.kernel() * p.kernel()];
      Arrays.fill(ones, 1f);
      return new LayerWalk.Conv(ones, new float[1], p.kernel(), p.kernel(), p.stride(),
          p.padding(), new int[] {1, p.in()[1], p.in()[2]}, new int[] {1, h, w});
    }
    return null;
  }

  private static double[] channelMean(float[] maps, int[] chw) {
    int cells = chw[1] * chw[2];
    double[] mean = new double[cells];
    for (int ch = 0; ch < chw[0]; ch++) {
      for (int p = 0; p < cells; p++) {
        mean[p] += maps[ch * cells + p];
      }
    }
    for (int p = 0; p < cells; p++) {
      mean[p] /= chw[0];
    }
    return mean;
  }

  private static final class Run extends LayerWalkRun {
    Run(MethodContext context) {
      super(context, false);
    }

    @Override
    protected List<ExplainEvent> events(LayerWalk walk, int passes) {
      InputSpec spec = context.model().input();
      float[] logits = walk.logits();
      float targetProbability = context.score(logits, context.target()).probability();
      List<Level> levels = sweep(walk);
      List<ExplainEvent> events = new ArrayList<>();
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      int step = 0;
      for (Level level : levels.subList(0, levels.size() - 1)) {
        step++;
        Map<String, Double> frameValues = new LinkedHashMap<>();
        frameValues.put("layer", (double) level.layer());
        frameValues.put("map_max", max(level.map()));
        values.put("map_max_layer_" + level.layer(), max(level.map()));
        FloatTensor frameMap = context.frames().tensors()
            ? GradientMaps.pixelMap(spec, LayerOps.channelSumAtInputSize(level.map(),
                new int[] {1, level.height(), level.width()}, spec.height(), spec.width()))
            : null;
        events.add(new ExplainEvent.Frame(step, "layer " + level.layer() + " relu",
            targetProbability, context.top(logits), frameValues, null, frameMap, passes));
      }
      Level last = levels.get(levels.size() - 1);
      if (last.height() != spec.height() || last.width() != spec.width()) {
        throw new IllegalStateException("VisualBackProp reached " + last.height() + "x"
            + last.width() + ", not the input's " + spec.height() + "x" + spec.width());
      }
      values.put("feature_levels", (double) (levels.size() - 1));
      values.put("map_max", max(last.map()));
      events.add(new ExplainEvent.Result(List.of(new SaliencyMap(NAME,
          GradientMaps.pixelMap(spec, GradientMaps.toFloats(last.map())),
          ColourScale.SEQUENTIAL)), values, List.of(), List.of(), step, passes, 0));
      return events;
    }
  }

  private static double max(double[] v) {
    double m = 0;
    for (double x : v) {
      m = Math.max(m, x);
    }
    return m;
  }
}
