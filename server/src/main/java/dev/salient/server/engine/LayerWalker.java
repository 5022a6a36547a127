package dev.salient.server.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a built-in network one layer at a time and keeps every activation, as a {@link LayerWalk}
 * per image. The layers' descriptions (kinds, shapes, weights as plain arrays) and the graph of
 * which layer reads which activation are made once, from a probe pass, when the model loads.
 */
final class LayerWalker {
  /** DJL's {@code BatchNorm} default, which the built-in architectures keep. */
  private static final double BATCH_NORM_EPSILON = 1e-5;

  /**
   * One layer to run: its block ({@code null} for an addition, which is no block of its own but
   * the residual {@code ParallelBlock}'s join) and the activations it reads.
   */
  private record Step(Block block, int[] reads) {}

  private final List<Step> steps;
  private final ParameterStore parameterStore;
  private final List<LayerWalk.Layer> layers;
  private final List<int[]> reads;

  private LayerWalker(List<Step> steps, ParameterStore parameterStore,
      List<LayerWalk.Layer> layers) {
    this.steps = List.copyOf(steps);
    this.parameterStore = parameterStore;
    this.layers = List.copyOf(layers);
    this.reads = steps.stream().map(Step::reads).toList();
  }

  /**
   * A walker over the sequence {@code blocks}, whose kinds are {@code kinds}, for inputs of
   * {@code input}'s shape (max pooling over non-overlapping windows).
   *
   * @throws IllegalArgumentException when a block is not of its declared kind or shape
   */
  static LayerWalker of(List<Block> blocks, List<LayerWalk.Kind> kinds, InputSpec input,
      ParameterStore parameterStore, NDManager manager) {
    if (blocks.size() != kinds.size()) {
      throw new IllegalArgumentException("the walk declares " + kinds.size() + " layers, the "
          + "block has " + blocks.size());
    }
    return of(blocks, WalkPlan.of(kinds), input, parameterStore, manager);
  }

  /**
   * A walker over {@code children}, the blocks of a sequence (a {@code SequentialBlock}'s
   * children), laid out as {@code plan} says.
   *
   * @throws IllegalArgumentException when a block does not match its plan
   */
  static LayerWalker of(List<Block> children, WalkPlan.Sequence plan, InputSpec input,
      ParameterStore parameterStore, NDManager manager) {
    Builder builder = new Builder(parameterStore);
    try (NDManager scope = manager.newSubManager()) {
      NDArray x = scope.zeros(new Shape(1, input.channels(), input.height(), input.width()));
      builder.probe.add(x);
      builder.sequence(children, plan, 0);
    }
    return new LayerWalker(builder.steps, parameterStore, builder.layers);
  }

  /** Follows a plan over the blocks, running the probe through each layer as it goes. */
  private static final class Builder {
    private final ParameterStore parameterStore;
    private final List<Step> steps = new ArrayList<>();
    private final List<LayerWalk.Layer> layers = new ArrayList<>();
    /** The probe's activations: index 0 the input, {@code i + 1} layer {@code i}'s output. */
    private final List<NDArray> probe = new ArrayList<>();

    Builder(ParameterStore parameterStore) {
      this.parameterStore = parameterStore;
    }

    /** Adds the layers of {@code block} reading activation {@code from}; returns its output's. */
    int add(Block block, WalkPlan plan, int from) {
      if (plan instanceof WalkPlan.Sequence sequence) {
        if (!(block instanceof SequentialBlock)) {
          throw new IllegalArgumentException(where() + "expected a SequentialBlock, got " + block);
        }
        return sequence(block.getChildren().values(), sequence, from);
      }
      if (plan instanceof WalkPlan.Residual residual) {
        List<Block> branches = block instanceof ParallelBlock
            ? block.getChildren().values() : List.of();
        if (branches.size() != 2) {
          throw new IllegalArgumentException(where() + "expected a ParallelBlock of two "
              + "branches, got " + block);
        }
        int main = add(branches.get(0), residual.main(), from);
        int shortcut = add(branches.get(1), residual.shortcut(), from);
        NDArray sum = probe.get(main).add(probe.get(shortcut));
        return layer(null, new int[] {main, shortcut}, sum,
            new LayerWalk.Add(dims(sum.getShape().getShape())));
      }
      if (plan instanceof WalkPlan.Identity) {
        NDArray x = probe.get(from);
        NDArray y = block.forward(parameterStore, new NDList(x), false).singletonOrThrow();
        if (!y.getShape().equals(x.getShape())) {
          throw new IllegalArgumentException(where() + "expected an identity block, got " + block);
        }
        return from;
      }
      NDArray x = probe.get(from);
      NDArray y = block.forward(parameterStore, new NDList(x), false).singletonOrThrow();
      return layer(block, new int[] {from}, y,
          describe(plan, block, x.getShape().getShape(), y.getShape().getShape()));
    }

    int sequence(List<Block> children, WalkPlan.Sequence plan, int from) {
      if (children.size() != plan.children().size()) {
        throw new IllegalArgumentException(where() + "the walk declares "
            + plan.children().size() + " blocks, the block has " + children.size());
      }
      int at = from;
      for (int i = 0; i < children.size(); i++) {
        at = add(children.get(i), plan.children().get(i), at);
      }
      return at;
    }

    private int layer(Block block, int[] reads, NDArray output, LayerWalk.Layer layer) {
      steps.add(new Step(block, reads));
      layers.add(layer);
      probe.add(output);
      return probe.size() - 1;
    }

    private String where() {
      return "layer " + layers.size() + ": ";
    }

    private LayerWalk.Layer describe(WalkPlan plan, Block block, long[] in, long[] out) {
      String where = where() + plan + ": ";
      if (plan instanceof WalkPlan.MaxPool window) {
        LayerWalk.MaxPool pool;
        if (window.kernel() == 0) {
          int size = (int) (in[2] / out[2]);
          if (in[2] != out[2] * size || in[3] != out[3] * size) {
            throw new IllegalArgumentException(where + "windows do not tile the input " + in[2]
                + "x" + in[3] + " into " + out[2] + "x" + out[3]);
          }
          pool = new LayerWalk.MaxPool(size, chw(in));
        } else {
          pool = new LayerWalk.MaxPool(window.kernel(), window.stride(), window.padding(),
              chw(in));
        }
        if (pool.outputSize() * out[0] != new Shape(out).size()) {
          throw new IllegalArgumentException(where + "the block gives " + new Shape(out)
              + ", the window " + java.util.Arrays.toString(pool.out()));
        }
        return pool;
      }
      LayerWalk.Kind kind = ((WalkPlan.Leaf) plan).kind();
      switch (kind) {
        case CONV -> {
          if (!(block instanceof Convolution conv) || conv.getGroups() != 1
              || conv.getStride().get(0) != conv.getStride().get(1)
              || conv.getPadding().get(0) != conv.getPadding().get(1)
              || conv.getDilation().get(0) != 1 || conv.getDilation().get(1) != 1) {
            throw new IllegalArgumentException(where + "not a plain 2-D convolution: " + block);
          }
          Shape kernel = conv.getKernelShape();
          float[] bias = hasParameter(block, "bias") ? floats(block, "bias")
              : new float[(int) out[1]];
          return new LayerWalk.Conv(floats(block, "weight"), bias, (int) kernel.get(0),
              (int) kernel.get(1), (int) conv.getStride().get(0),
              (int) conv.getPadding().get(0), chw(in), chw(out));
        }
        case LINEAR -> {
          if (!(block instanceof Linear)) {
            throw new IllegalArgumentException(where + "not a linear layer: " + block);
          }
          return new LayerWalk.Linear(floats(block, "weight"), floats(block, "bias"),
              (int) in[1], (int) out[1]);
        }
        case RELU -> {
          return new LayerWalk.Relu(dims(in));
        }
        case BATCH_NORM -> {
          if (!(block instanceof BatchNorm)) {
            throw new IllegalArgumentException(where + "not a batch normalisation: " + block);
          }
          LayerWalk.BatchNorm norm = batchNorm(block, chw(in));
          checkBatchNorm(where, block, norm, parameterStore, probe.get(0).getManager());
          return norm;
        }
        case AVG_POOL -> {
          if (new Shape(out).size() != in[1]) {
            throw new IllegalArgumentException(where + "not a global average pooling: " + block
                + " gives " + new Shape(out) + " from " + new Shape(in));
          }
          return new LayerWalk.AvgPool(chw(in));
        }
        case FLATTEN -> {
          // After global pooling the input is (N, C) already: C maps of 1x1.
          return new LayerWalk.Flatten(in.length == 2 ? new int[] {(int) in[1], 1, 1} : chw(in));
        }
        default -> throw new IllegalArgumentException(where + "a " + kind + " is no block");
      }
    }
  }

  /**
   * Checks {@code norm} against its block on one input of ones per channel: a block whose
   * epsilon is not DJL's default would give other values.
   */
  private static void checkBatchNorm(String where, Block block, LayerWalk.BatchNorm norm,
      ParameterStore parameterStore, NDManager manager) {
    int channels = norm.shape()[0];
    try (NDManager scope = manager.newSubManager()) {
      NDArray ones = scope.ones(new Shape(1, channels, 1, 1));
      float[] y = block.forward(parameterStore, new NDList(ones), false).singletonOrThrow()
          .toFloatArray();
      for (int c = 0; c < channels; c++) {
        float expected = norm.scale()[c] + norm.shift()[c];
        if (Math.abs(y[c] - expected) > 1e-4 * Math.max(1, Math.abs(expected))) {
          throw new IllegalArgumentException(where + "channel " + c + " gives " + y[c]
              + " for 1, the walk's scale and shift (epsilon " + BATCH_NORM_EPSILON + ") "
              + expected + ": a batch normalisation with another epsilon is not supported");
        }
      }
    }
  }

  /** Eval-mode batch normalisation as a per-channel scale and shift, computed in double. */
  private static LayerWalk.BatchNorm batchNorm(Block block, int[] chw) {
    float[] gamma = floats(block, "gamma");
    float[] beta = floats(block, "beta");
    float[] mean = floats(block, "runningMean");
    float[] variance = floats(block, "runningVar");
    float[] scale = new float[chw[0]];
    float[] shift = new float[chw[0]];
    for (int c = 0; c < chw[0]; c++) {
      double s = gamma[c] / Math.sqrt(variance[c] + BATCH_NORM_EPSILON);
      scale[c] = (float) s;
      shift[c] = (float) (beta[c] - mean[c] * s);
    }
    return new LayerWalk.BatchNorm(scale, shift, chw);
  }

  private static boolean hasParameter(Block block, String parameter) {
    return block.getParameters().keys().contains(parameter);
  }

  private static float[] floats(Block block, String parameter) {
    for (var p : block.getParameters()) {
      if (p.getKey().equals(parameter)) {
        return p.getValue().getArray().toFloatArray();
      }
    }
    throw new IllegalArgumentException(block + " has no parameter " + parameter);
  }

  private static int[] chw(long[] nchw) {
    if (nchw.length != 4) {
      throw new IllegalArgumentException("expected (N, C, H, W), got " + new Shape(nchw));
    }
    return new int[] {(int) nchw[1], (int) nchw[2], (int) nchw[3]};
  }

  /** A batch shape without its batch axis. */
  private static int[] dims(long[] shape) {
    int[] dims = new int[shape.length - 1];
    for (int d = 1; d < shape.length; d++) {
      dims[d - 1] = (int) shape[d];
    }
    return dims;
  }

  /** The layers, input first. */
  List<LayerWalk.Layer> layers() {
    return layers;
  }

  /**
   * Runs a normalised batch (N, C, H, W) layer by layer, without recording gradients, and
   * returns each image's walk.
   */
  List<LayerWalk> walk(NDArray normalised) {
    int n = (int) normalised.getShape().get(0);
    List<List<float[]>> perImage = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      perImage.add(new ArrayList<>());
    }
    List<NDArray> activations = new ArrayList<>();
    activations.add(normalised);
    addRows(perImage, normalised);
    for (Step step : steps) {
      NDArray x = activations.get(step.reads()[0]);
      NDArray y = step.block() == null ? x.add(activations.get(step.reads()[1]))
          : step.block().forward(parameterStore, new NDList(x), false).singletonOrThrow();
      activations.add(y);
      addRows(perImage, y);
    }
    List<LayerWalk> walks = new ArrayList<>(n);
    for (List<float[]> inputs : perImage) {
      walks.add(new LayerWalk(layers, reads, inputs));
    }
    return walks;
  }

  private static void addRows(List<List<float[]>> perImage, NDArray batch) {
    float[] flat = batch.toFloatArray();
    int width = flat.length / perImage.size();
    for (int i = 0; i < perImage.size(); i++) {
      float[] row = new float[width];
      System.arraycopy(flat, i * width, row, 0, width);
      perImage.get(i).add(row);
    }
  }
}
