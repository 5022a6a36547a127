package dev.salient.server.engine;

import ai.djl.MalformedModelException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;

/** A network defined in Java as DJL blocks, with weights from its model package. */
final class BuiltinModel implements LoadedModel {
  private final ModelPackage modelPackage;
  private final NDManager manager;
  private final Block block;
  private final ParameterStore parameterStore;

  private BuiltinModel(ModelPackage modelPackage, NDManager manager, Block block) {
    this.modelPackage = modelPackage;
    this.manager = manager;
    this.block = block;
    this.parameterStore = new ParameterStore(manager, false);
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
      // Input gradients only: frozen weights skip the weight gradients (25-30 % faster, STACK.md).
      block.freezeParameters(true);
      return new BuiltinModel(pkg, manager, block);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      manager.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot load weights " + pkg.weights() + " for architecture "
              + pkg.architecture() + " from " + pkg.location() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public ModelPackage modelPackage() {
    return modelPackage;
  }

  @Override
  public NDArray forward(NDArray normalisedInput, boolean recordGradient) {
    return block.forward(parameterStore, new NDList(normalisedInput), false).singletonOrThrow();
  }

  @Override
  public void close() {
    manager.close();
  }
}
