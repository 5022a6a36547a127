package dev.salient.server.engine;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * The walk of a TorchScript model whose {@code model.json} declares its {@code layers}: Salient
 * cannot see inside a TorchScript module, so the package says which layers it computes, in order,
 * and where each weighted layer's parameters are. The walk runs DJL layers of those kinds that
 * hold copies of the module's parameters; before it is used, it must give the module's own
 * logits on random images, so a declaration that does not describe the module stops the load.
 */
final class DeclaredLayers {
  /** How far the walk's logits may be from the module's, relative to the largest logit (min 1). */
  static final double TOLERANCE = 1e-4;

  private static final int PROBES = 2;

  private DeclaredLayers() {}

  /**
   * The walker of {@code pkg}'s declared layers, its layers made on {@code manager} (closed with
   * the model) from {@code parameters}, the module's parameters by name, and checked against
   * {@code module}, the model's forward pass on a normalised batch.
   *
   * @throws IllegalArgumentException naming the layer and what to fix, when the declaration does
   *     not fit the parameters or does not compute the module
   */
  static LayerWalker walker(ModelPackage pkg, Map<String, NDArray> parameters,
      NDManager manager, UnaryOperator<NDArray> module) {
    String where = "model " + pkg.name() + ": model.json \"layers\"";
    InputSpec in = pkg.input();
    Shape shape = new Shape(1, in.channels(), in.height(), in.width());
    List<Block> blocks = new ArrayList<>();
    List<LayerWalk.Kind> kinds = new ArrayList<>();
    List<ModelManifest.Layer> declared = pkg.layers();
    for (int i = 0; i < declared.size(); i++) {
      ModelManifest.Layer layer = declared.get(i);
      String at = where + "[" + i + "] (" + layer.kind() + "): ";
      Block block = newBlock(layer, parameters, shape, at);
      try {
        block.initialize(manager, DataType.FLOAT32, shape);
        shape = block.getOutputShapes(new Shape[] {shape})[0];
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(at + "cannot take the " + shape + " the layers before "
            + "it give: " + e.getMessage(), e);
      }
      if (layer.parameters() != null) {
        copyParameters(block, layer.parameters(), parameters, at);
      }
      blocks.add(block);
      kinds.add(LayerWalk.Kind.valueOf(layer.kind().toUpperCase(Locale.ROOT)));
    }
    if (shape.dimension() != 2 || shape.get(1) != pkg.numClasses()) {
      throw new IllegalArgumentException(where + " end in " + shape + ", not the (1, "
          + pkg.numClasses() + ") logits of the model's " + pkg.numClasses() + " labels");
    }
    ParameterStore parameterStore = new ParameterStore(manager, false);
    LayerWalker walker;
    try {
      walker = LayerWalker.of(blocks, kinds, in, parameterStore, manager);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
    checkAgainstModule(walker, pkg, manager, module, where);
    return walker;
  }

  /**
   * The parameters of the TorchScript blocks of a package, by name, each part's names prefixed
   * with {@code prefix} (empty for a one-file module).
   */
  static void addParameters(Map<String, NDArray> into, Block module, String prefix) {
    for (Pair<String, Parameter> p : module.getParameters()) {
      into.put(prefix + p.getKey(), p.getValue().getArray());
    }
  }

  private static Block newBlock(ModelManifest.Layer layer, Map<String, NDArray> parameters,
      Shape input, String at) {
    return switch (layer.kind()) {
      case "conv" -> {
        Shape weight = weightShape(layer.parameters(), parameters, 4, at);
        if (input.dimension() != 4 || weight.get(1) != input.get(1)) {
          throw new IllegalArgumentException(at + "its weight " + weight + " takes "
              + weight.get(1) + " channels, but the layers before it give " + input
              + "; is a layer missing, or is it grouped (depthwise), which the white-box rules "
              + "do not cover?");
        }
        int stride = layer.stride() != null ? layer.stride() : 1;
        int padding = layer.padding() != null ? layer.padding() : 0;
        yield Conv2d.builder()
            .setFilters((int) weight.get(0))
            .setKernelShape(new Shape(weight.get(2), weight.get(3)))
            .optStride(new Shape(stride, stride))
            .optPadding(new Shape(padding, padding))
            .build();
      }
      case "linear" -> {
        Shape weight = weightShape(layer.parameters(), parameters, 2, at);
        if (input.dimension() != 2 || weight.get(1) != input.get(1)) {
          throw new IllegalArgumentException(at + "its weight " + weight + " takes "
              + weight.get(1) + " inputs, but the layers before it give " + input
              + (input.dimension() != 2 ? ": is a flatten missing?" : ""));
        }
        yield Linear.builder().setUnits(weight.get(0)).build();
      }
      case "relu" -> Activation.reluBlock();
      case "max_pool" -> Pool.maxPool2dBlock(new Shape(layer.size(), layer.size()),
          new Shape(layer.size(), layer.size()));
      case "avg_pool" -> Pool.globalAvgPool2dBlock();
      case "flatten" -> Blocks.batchFlattenBlock();
      default -> throw new IllegalArgumentException(at + "unknown kind");
    };
  }

  private static Shape weightShape(String prefix, Map<String, NDArray> parameters,
      int dimensions, String at) {
    NDArray weight = parameters.get(prefix + ".weight");
    if (weight == null) {
      throw new IllegalArgumentException(at + "the module has no parameter " + prefix
          + ".weight; " + (parameters.isEmpty()
              ? "it has no parameters at all, as a frozen export (torch.jit.freeze) keeps its "
                  + "weights as constants: export it without freezing (docs/models.md)"
              : "its parameters are " + parameters.keySet()));
    }
    if (weight.getShape().dimension() != dimensions) {
      throw new IllegalArgumentException(at + prefix + ".weight is " + weight.getShape()
          + ", not a " + dimensions + "-dimensional weight");
    }
    return weight.getShape();
  }

  private static void copyParameters(Block block, String prefix,
      Map<String, NDArray> parameters, String at) {
    for (Pair<String, Parameter> p : block.getParameters()) {
      NDArray target = p.getValue().getArray();
      NDArray source = parameters.get(prefix + "." + p.getKey());
      if (source == null && p.getKey().equals("bias")) {
        target.set(FloatBuffer.wrap(new float[(int) target.size()]));
        continue;
      }
      if (source == null || !source.getShape().equals(target.getShape())) {
        throw new IllegalArgumentException(at + prefix + "." + p.getKey() + " is "
            + (source == null ? "missing" : source.getShape().toString()) + ", the layer needs "
            + target.getShape());
      }
      target.set(FloatBuffer.wrap(source.toFloatArray()));
    }
  }

  private static void checkAgainstModule(LayerWalker walker, ModelPackage pkg,
      NDManager manager, UnaryOperator<NDArray> module, String where) {
    InputSpec in = pkg.input();
    int pixels = in.height() * in.width();
    float[] mean = in.mean();
    float[] std = in.std();
    float[] images = new float[PROBES * in.size()];
    Random random = new Random(20_240_603L);
    for (int image = 0; image < PROBES; image++) {
      float[] pixelValues = in.randomImage(random);
      for (int k = 0; k < pixelValues.length; k++) {
        int channel = k / pixels;
        images[image * in.size() + k] = (pixelValues[k] - mean[channel]) / std[channel];
      }
    }
    try (NDManager scope = manager.newSubManager()) {
      NDArray batch = scope.create(images,
          new Shape(PROBES, in.channels(), in.height(), in.width()));
      float[] expected;
      try (NDArray logits = module.apply(batch)) {
        expected = logits.toFloatArray();
      }
      List<LayerWalk> walks = walker.walk(batch);
      double largest = 1;
      double worst = 0;
      for (int image = 0; image < PROBES; image++) {
        float[] walked = walks.get(image).logits();
        for (int c = 0; c < walked.length; c++) {
          float want = expected[image * walked.length + c];
          largest = Math.max(largest, Math.abs(want));
          worst = Math.max(worst, Math.abs(walked[c] - want));
        }
      }
      if (worst > TOLERANCE * largest) {
        throw new IllegalArgumentException(String.format(Locale.ROOT, "%s do not compute the "
            + "TorchScript module: on random images their logits differ from the module's by up "
            + "to %.4g (largest logit %.4g); check each layer's kind, order, stride and padding "
            + "against the network (docs/models.md)", where, worst, largest));
      }
    }
  }
}
