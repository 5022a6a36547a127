package dev.salient.server.engine;

import ai.djl.MalformedModelException;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.ParameterStore;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.util.List;

/**
 * A network defined in Java as DJL blocks, with weights from its model package.
 *
 * <p>When the package names a {@code feature_layer}, it is the 0-based index of a child of the
 * architecture's top-level {@link SequentialBlock}: the children up to and including it are the
 * feature part, the rest the head. Whole-model passes still run the unsplit block.
 *
 * <p>On CPU, passes of as many images as the architecture names run in channels-last memory
 * layout ({@link BuiltinArchitectures}): same values, different speed.
 */
final class BuiltinModel implements LoadedModel {
  private final ModelPackage modelPackage;
  private final NDManager manager;
  private final Block block;
  private final ParameterStore parameterStore;
  private final List<Block> featurePart;
  private final List<Block> headPart;
  /** Passes of at least this many images run channels-last; 0 for none. */
  private final int channelsLastFromImages;
  /** Walks the layers for the white-box methods; null where their rules do not cover them. */
  private final LayerWalker walker;

  private BuiltinModel(ModelPackage modelPackage, NDManager manager, Block block) {
    this.modelPackage = modelPackage;
    this.manager = manager;
    this.block = block;
    this.parameterStore = new ParameterStore(manager, false);
    this.channelsLastFromImages = manager.getDevice().isGpu()
        ? 0 : BuiltinArchitectures.channelsLastFromImages(modelPackage.architecture());
    if (modelPackage.featureLayer() == null) {
      this.featurePart = null;
      this.headPart = null;
    } else {
      List<Block> children = block.getChildren().values();
      int last = featureLayerIndex(modelPackage, block);
      this.featurePart = List.copyOf(children.subList(0, last + 1));
      this.headPart = List.copyOf(children.subList(last + 1, children.size()));
    }
    WalkPlan.Sequence walk = BuiltinArchitectures.walk(modelPackage.architecture());
    this.walker = walk == null ? null : LayerWalker.of(block.getChildren().values(), walk,
        modelPackage.input(), parameterStore, manager);
  }

  /** Builds the package's architecture on {@code parent}'s device and loads its weights. */
  static BuiltinModel load(ModelPackage pkg, NDManager parent) {
    NDManager manager = parent.newSubManager();
    try {
      Block block = BuiltinArchitectures.newBlock(pkg.architecture());
      InputSpec in = pkg.input();
      block.initialize(manager, DataType.FLOAT32, new Shape(1, in.channels(), in.height(), in.width()));
      java.util.Map<String, Shape> expected = new java.util.LinkedHashMap<>();
      block.getParameters().forEach(p -> expected.put(p.getKey(), p.getValue().getArray()
          .getShape()));
      try (DataInputStream weights =
          new DataInputStream(new BufferedInputStream(pkg.location().open(pkg.weights())))) {
        block.loadParameters(manager, weights);
      }
      // DJL swaps in the stored arrays without comparing shapes: a package made for another
      // layout would load and compute nonsense.
      block.getParameters().forEach(p -> {
        Shape loaded = p.getValue().getArray().getShape();
        if (!loaded.equals(expected.get(p.getKey()))) {
          throw new IllegalArgumentException("parameter " + p.getKey() + " has shape " + loaded
              + " but architecture " + pkg.architecture() + " needs " + expected.get(p.getKey()));
        }
      });
      return ready(pkg, manager, block);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      manager.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot load weights " + pkg.weights() + " for architecture "
              + pkg.architecture() + " from " + pkg.location() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Builds the package's architecture with random weights instead of its trained ones: DJL's
   * default initialisation of each parameter type (Xavier-Gaussian weights, zero biases), drawn
   * from libtorch's generator seeded with {@code seed}. For the model-randomisation sanity check
   * of saliency methods (Adebayo et al. 2018); the package's weights file is not read.
   */
  static BuiltinModel loadRandomlyInitialised(ModelPackage pkg, NDManager parent, int seed) {
    NDManager manager = parent.newSubManager();
    try {
      Block block = BuiltinArchitectures.newBlock(pkg.architecture());
      InputSpec in = pkg.input();
      Engine.getEngine("PyTorch").setRandomSeed(seed);
      block.initialize(manager, DataType.FLOAT32,
          new Shape(1, in.channels(), in.height(), in.width()));
      return ready(pkg, manager, block);
    } catch (RuntimeException e) {
      manager.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot build architecture " + pkg.architecture() + ": "
              + e.getMessage(), e);
    }
  }

  private static BuiltinModel ready(ModelPackage pkg, NDManager manager, Block block) {
    // Input gradients only: frozen weights skip the weight gradients (25-30 % faster, STACK.md).
    block.freezeParameters(true);
    BuiltinModel model = new BuiltinModel(pkg, manager, block);
    if (model.hasFeatureLayer()) {
      model.checkFeatureShape();
    }
    return model;
  }

  private static int featureLayerIndex(ModelPackage pkg, Block block) {
    String where = "model.json \"feature_layer\": \"" + pkg.featureLayer() + "\": ";
    if (!(block instanceof SequentialBlock)) {
      throw new IllegalArgumentException(where + "architecture " + pkg.architecture()
          + " is not a sequence of layers, so it cannot be split");
    }
    int children = block.getChildren().size();
    int index;
    try {
      index = Integer.parseInt(pkg.featureLayer().trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(where + "for a builtin model it is the 0-based index of "
          + "a layer of " + pkg.architecture() + " (0 to " + (children - 2) + ")", e);
    }
    if (index < 0 || index > children - 2) {
      throw new IllegalArgumentException(where + "layer index must be in [0, " + (children - 2)
          + "]; " + pkg.architecture() + " has " + children + " layers, "
          + block.getChildren().keys());
    }
    return index;
  }

  /** Grad-CAM needs spatial feature maps: the feature part must return (N, K, h, w). */
  private void checkFeatureShape() {
    InputSpec in = modelPackage.input();
    try (NDManager scope = manager.newSubManager()) {
      NDArray probe = scope.zeros(new Shape(1, in.channels(), in.height(), in.width()));
      Shape shape = features(probe, false).getShape();
      if (shape.dimension() != 4) {
        throw new IllegalArgumentException("model.json \"feature_layer\": layer "
            + modelPackage.featureLayer() + " of " + modelPackage.architecture() + " outputs "
            + shape + "; a feature layer must output spatial maps (N, K, h, w)");
      }
    }
  }

  @Override
  public ModelPackage modelPackage() {
    return modelPackage;
  }

  @Override
  public NDArray forward(NDArray normalisedInput, boolean recordGradient) {
    return block.forward(parameterStore, new NDList(inLayout(normalisedInput)), false)
        .singletonOrThrow();
  }

  /** From how many images a pass runs in channels-last memory layout; 0 for never. */
  int channelsLastFromImages() {
    return channelsLastFromImages;
  }

  /** Whether a pass of {@code images} images runs in channels-last memory layout. */
  boolean runsChannelsLast(long images) {
    return channelsLastFromImages > 0 && images >= channelsLastFromImages;
  }

  /**
   * The input in the memory layout its pass runs fastest in. Channels-last: copied into
   * (N, H, W, C) order and viewed as (N, C, H, W) again, which the layers keep up to the flatten
   * before the linear layers; that reads it in (C, H, W) order, so the logits and, through
   * autograd, the input gradient in the caller's layout are the same as the usual layout's.
   */
  private NDArray inLayout(NDArray input) {
    Shape shape = input.getShape();
    if (shape.dimension() != 4 || !runsChannelsLast(shape.get(0))) {
      return input;
    }
    long n = shape.get(0);
    long c = shape.get(1);
    long h = shape.get(2);
    long w = shape.get(3);
    // Flattening the permuted view copies it (with one channel it is a view, and already the
    // same memory); the second reshape and transpose are views.
    return input.transpose(0, 2, 3, 1).reshape(n, h * w * c).reshape(n, h, w, c)
        .transpose(0, 3, 1, 2);
  }

  @Override
  public LayerWalker walker() {
    return walker;
  }

  @Override
  public boolean hasFeatureLayer() {
    return featurePart != null;
  }

  @Override
  public NDArray features(NDArray normalisedInput, boolean recordGradient) {
    return run(requireSplit(featurePart), inLayout(normalisedInput));
  }

  @Override
  public NDArray head(NDArray features, boolean recordGradient) {
    return run(requireSplit(headPart), features);
  }

  private List<Block> requireSplit(List<Block> part) {
    if (part == null) {
      throw new UnsupportedOperationException(
          "model " + modelPackage.name() + " has no feature layer");
    }
    return part;
  }

  private NDArray run(List<Block> layers, NDArray input) {
    NDList x = new NDList(input);
    for (Block layer : layers) {
      x = layer.forward(parameterStore, x, false);
    }
    return x.singletonOrThrow();
  }

  @Override
  public void close() {
    manager.close();
  }
}
