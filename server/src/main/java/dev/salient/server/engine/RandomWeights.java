package dev.salient.server.engine;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a model package of a builtin architecture with seeded random weights: the compute-heavy
 * benchmark model, and the untrained twin of a trained model for the model-randomisation sanity
 * check.
 */
public final class RandomWeights {
  private RandomWeights() {}

  /**
   * Writes {@code model.json}, {@code weights.params} and {@code labels.txt} into {@code dir} for
   * architecture {@code architecture} initialised with DJL's default initialisers under
   * {@code seed}; returns the package.
   */
  public static ModelPackage writePackage(Path dir, String name, String architecture,
      InputSpec input, List<String> labels, int seed) throws IOException {
    Files.createDirectories(dir);
    Engine.getEngine("PyTorch").setRandomSeed(seed);
    Block block = BuiltinArchitectures.newBlock(architecture);
    try (NDManager manager = NDManager.newBaseManager("PyTorch");
        OutputStream out = Files.newOutputStream(dir.resolve("weights.params"));
        DataOutputStream data = new DataOutputStream(new BufferedOutputStream(out))) {
      block.initialize(manager, DataType.FLOAT32,
          new Shape(1, input.channels(), input.height(), input.width()));
      block.saveParameters(data);
    }
    Files.write(dir.resolve("labels.txt"), labels);
    new ModelManifest(name, architecture + " with random weights (seed " + seed + ")",
        ModelManifest.BUILTIN, architecture, "weights.params", "labels.txt",
        ModelManifest.Input.of(input),
        input.preprocessing().equals(Preprocessing.DEFAULT)
            ? null : ModelManifest.ImagePreprocessing.of(input.preprocessing()),
        null, null, null)
        .write(dir.resolve(ModelManifest.FILE_NAME));
    return ModelPackage.read(dir);
  }
}
