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
import java.util.Map;

/** A TorchScript module exported from PyTorch ({@code model.pt}). */
final class TorchScriptModel implements LoadedModel {
  private final ModelPackage modelPackage;
  private final Model model;
  private final PtSymbolBlock block;

  private TorchScriptModel(ModelPackage modelPackage, Model model, PtSymbolBlock block) {
    this.modelPackage = modelPackage;
    this.model = model;
    this.block = block;
  }

  /** Loads {@code model.pt} of a package directory onto {@code device}, in eval mode. */
  static TorchScriptModel load(ModelPackage pkg, Device device) {
    Path file = pkg.location().path(pkg.weights());
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": TorchScript file " + file + " does not exist");
    }
    String fileName = file.getFileName().toString();
    String prefix = fileName.endsWith(".pt") ? fileName.substring(0, fileName.length() - 3) : fileName;
    Model model = Model.newInstance(pkg.name(), device, "PyTorch");
    try {
      // trainParam=true keeps the module differentiable; weights are frozen right after.
      model.load(file.getParent(), prefix, Map.of("trainParam", "true"));
      PtSymbolBlock block = (PtSymbolBlock) model.getBlock();
      block.freezeParameters(true);
      InputSpec in = pkg.input();
      // One forward with training=false switches the module to eval mode (BatchNorm running
      // statistics, no dropout). Later gradient passes call the module directly so they never
      // switch it back to training mode.
      try (NDArray probe =
          model.getNDManager().zeros(new Shape(1, in.channels(), in.height(), in.width()))) {
        block.forward(new ParameterStore(model.getNDManager(), false), new NDList(probe), false)
            .close();
      }
      return new TorchScriptModel(pkg, model, block);
    } catch (IOException | MalformedModelException | RuntimeException e) {
      model.close();
      throw new IllegalArgumentException(
          "model " + pkg.name() + ": cannot load TorchScript " + file + " (export it with "
              + "torch.jit.trace; see README): " + e.getMessage(), e);
    }
  }

  @Override
  public ModelPackage modelPackage() {
    return modelPackage;
  }

  @Override
  public NDArray forward(NDArray normalisedInput, boolean recordGradient) {
    NDList out = IValueUtils.forward(block, new NDList(normalisedInput), recordGradient);
    NDArray logits = out.get(0);
    for (int i = 1; i < out.size(); i++) {
      out.get(i).close();
    }
    return logits;
  }

  @Override
  public void close() {
    model.close();
  }
}
