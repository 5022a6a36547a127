package dev.salient.server.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a built-in sequence of layers one layer at a time and keeps what each received, as a
 * {@link LayerWalk} per image. The layers' descriptions (kinds, shapes, weights as plain arrays)
 * are made once, from a probe pass, when the model loads.
 */
final class LayerWalker {
  private final List<Block> blocks;
  private final ParameterStore parameterStore;
  private final List<LayerWalk.Layer> layers;

  private LayerWalker(List<Block> blocks, ParameterStore parameterStore,
      List<LayerWalk.Layer> layers) {
    this.blocks = blocks;
    this.parameterStore = parameterStore;
    this.layers = layers;
  }

  /**
   * A walker over {@code blocks}, whose kinds are {@code kinds}, for inputs of {@code input}'s
   * shape.
   *
   * @throws IllegalArgumentException when a block is not of its declared kind or shape
   */
  static LayerWalker of(List<Block> blocks, List<LayerWalk.Kind> kinds, InputSpec input,
      ParameterStore parameterStore, NDManager manager) {
    if (blocks.size() != kinds.size()) {
      throw new IllegalArgumentException("the walk declares " + kinds.size() + " layers, the "
          + "block has " + blocks.size());
    }
    List<LayerWalk.Layer> layers = new ArrayList<>();
    try (NDManager scope = manager.newSubManager()) {
      NDArray x = scope.zeros(new Shape(1, input.channels(), input.height(), input.width()));
      for (int i = 0; i < blocks.size(); i++) {
        Block block = blocks.get(i);
        long[] in = x.getShape().getShape();
        NDArray y = block.forward(parameterStore, new NDList(x), false).singletonOrThrow();
        long[] out = y.getShape().getShape();
        layers.add(describe(i, kinds.get(i), block, in, out));
        x = y;
      }
    }
    return new LayerWalker(List.copyOf(blocks), parameterStore, List.copyOf(layers));
  }

  private static LayerWalk.Layer describe(int index, LayerWalk.Kind kind, Block block, long[] in,
      long[] out) {
    String where = "layer " + index + " (" + kind + "): ";
    switch (kind) {
      case CONV -> {
        if (!(block instanceof Convolution conv) || conv.getGroups() != 1
            || conv.getStride().get(0) != conv.getStride().get(1)
            || conv.getPadding().get(0) != conv.getPadding().get(1)
            || conv.getDilation().get(0) != 1 || conv.getDilation().get(1) != 1) {
          throw new IllegalArgumentException(where + "not a plain 2-D convolution: " + block);
        }
        Shape kernel = conv.getKernelShape();
        return new LayerWalk.Conv(floats(block, "weight"), floats(block, "bias"),
            (int) kernel.get(0), (int) kernel.get(1), (int) conv.getStride().get(0),
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
        int[] shape = new int[in.length - 1];
        for (int d = 1; d < in.length; d++) {
          shape[d - 1] = (int) in[d];
        }
        return new LayerWalk.Relu(shape);
      }
      case MAX_POOL -> {
        int size = (int) (in[2] / out[2]);
        if (in[2] != out[2] * size || in[3] != out[3] * size) {
          throw new IllegalArgumentException(where + "windows do not tile the input " + in[2]
              + "x" + in[3] + " into " + out[2] + "x" + out[3]);
        }
        return new LayerWalk.MaxPool(size, chw(in));
      }
      case FLATTEN -> {
        return new LayerWalk.Flatten(chw(in));
      }
      default -> throw new IllegalArgumentException(where + "unknown kind");
    }
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
    NDArray x = normalised;
    addRows(perImage, x);
    for (Block block : blocks) {
      x = block.forward(parameterStore, new NDList(x), false).singletonOrThrow();
      addRows(perImage, x);
    }
    List<LayerWalk> walks = new ArrayList<>(n);
    for (List<float[]> inputs : perImage) {
      walks.add(new LayerWalk(layers, inputs));
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
