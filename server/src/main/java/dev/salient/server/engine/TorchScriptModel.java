package dev.salient.server.engine;

import ai.djl.Device;
import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** A TorchScript module exported from PyTorch ({@code model.pt}). */
final class TorchScriptModel implements LoadedModel {
  private final ModelPackage modelPackage;
  private final Model model;
  private final PtSymbolBlock block;
  /** Walks the layers {@code model.json} declares; null when it declares none. */
  private final LayerWalker walker;

  private TorchScriptModel(ModelPackage modelPackage, Model model, PtSymbolBlock block,
      LayerWalker walker) {
    this.modelPackage = modelPackage;
    this.model = model;
    this.block = block;
    this.walker = walker;
  }

  /** Loads {@code model.pt} of a package directory onto {@code device}, in eval mode. */
  static TorchScriptModel load(ModelPackage pkg, Device device) {
    Model model = open(pkg, pkg.weights(), device);
    try {
      InputSpec in = pkg.input();
      // One forward with training=false switches the module to eval mode (BatchNorm running
      // statistics, no dropout). Later gradient passes call the module directly so they never
      // switch it back to training mode.
      try (NDArray probe =
          model.getNDManager().zeros(new Shape(1, in.channels(), in.height(), in.width()))) {
        evalMode(model, probe).close();
      }
    } catch (RuntimeException e) {
      model.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot run TorchScript " + pkg.weights() + ": "
              + e.getMessage(), e);
    }
    PtSymbolBlock block = (PtSymbolBlock) model.getBlock();
    LayerWalker walker = null;
    if (pkg.layers() != null) {
      try {
        Map<String, NDArray> parameters = new LinkedHashMap<>();
        DeclaredLayers.addParameters(parameters, block, "");
        walker = DeclaredLayers.walker(pkg, parameters, model.getNDManager(),
            x -> call(block, x, false));
      } catch (RuntimeException e) {
        model.close();
        throw e;
      }
    }
    return new TorchScriptModel(pkg, model, block, walker);
  }

  /**
   * Loads the TorchScript file {@code fileName} of a package directory onto {@code device},
   * differentiable with respect to its input and with frozen weights; not yet in eval mode.
   */
  static Model open(ModelPackage pkg, String fileName, Device device) {
    Path file = pkg.location().path(fileName);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": TorchScript file " + file + " does not exist");
    }
    String name = file.getFileName().toString();
    String prefix = name.endsWith(".pt") ? name.substring(0, name.length() - 3) : name;
    Model model = Model.newInstance(pkg.name(), device, "PyTorch");
    try {
      // trainParam=true keeps the module differentiable; weights are frozen right after.
      model.load(file.getParent(), prefix, Map.of("trainParam", "true"));
      model.getBlock().freezeParameters(true);
      return model;
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot load TorchScript " + file + " (export it with "
              + "torch.jit.trace; see docs/models.md): " + e.getMessage(), e);
    }
  }

  /**
   * Runs {@code model} once with training=false, which puts the module in eval mode for good,
   * and returns its output for {@code probe}.
   */
  static NDArray evalMode(Model model, NDArray probe) {
    return model.getBlock()
        .forward(new ParameterStore(model.getNDManager(), false), new NDList(probe), false)
        .singletonOrThrow();
  }

  /** Calls a TorchScript module directly (never switching its mode); returns its first output. */
  static NDArray call(PtSymbolBlock block, NDArray input, boolean recordGradient) {
    NDList out = IValueUtils.forward(block, new NDList(input), recordGradient);
    NDArray first = out.get(0);
    for (int i = 1; i < out.size(); i++) {
      out.get(i).close();
    }
    return first;
  }

  @Override
  public ModelPackage modelPackage() {
    return modelPackage;
  }

  @Override
  public NDArray forward(NDArray normalisedInput, boolean recordGradient) {
    return call(block, normalisedInput, recordGradient);
  }

  @Override
  public LayerWalker walker() {
    return walker;
  }

  @Override
  public void close() {
    model.close();
  }
}
