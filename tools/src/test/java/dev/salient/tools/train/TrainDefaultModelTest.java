package dev.salient.tools.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.ModelManifest;
import dev.salient.server.engine.ModelPackage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The trainer writes model.json through the loader's schema, byte for byte as committed. */
class TrainDefaultModelTest {
  static final Path COMMITTED =
      Path.of("..", "server", "src", "main", "resources", "models", "fashion-mnist");

  @TempDir Path dir;

  @Test
  void manifestWithTheDefaultRecipeIsTheCommittedOne() throws IOException {
    TrainDefaultModel trainer = new TrainDefaultModel();
    new CommandLine(trainer).parseArgs();
    Path file = dir.resolve(ModelManifest.FILE_NAME);

    trainer.manifest(0.9192, 0.948, 60000, 10000).write(file);

    assertEquals(Files.readString(COMMITTED.resolve(ModelManifest.FILE_NAME)),
        Files.readString(file));
    assertEquals(ModelManifest.read(COMMITTED.resolve(ModelManifest.FILE_NAME)),
        ModelManifest.read(file));
  }

  @Test
  void theLoaderReadsWhatTheTrainerWrites() throws IOException {
    TrainDefaultModel trainer = new TrainDefaultModel();
    new CommandLine(trainer).parseArgs("--epochs", "3", "--seed", "7");
    trainer.manifest(0.91, 0.95, 100, 10).write(dir.resolve(ModelManifest.FILE_NAME));
    Files.writeString(dir.resolve("labels.txt"),
        String.join("\n", FashionMnistIdx.CLASS_NAMES) + "\n");

    ModelPackage model = ModelPackage.read(dir);

    assertEquals("fashion-mnist", model.name());
    assertEquals(ModelPackage.Format.BUILTIN, model.format());
    assertEquals(0.2860f, model.input().mean()[0]);
    assertEquals(10, model.numClasses());
    assertEquals(0.91, model.metrics().get("test_accuracy"), 1e-12);
    assertEquals(3, ModelManifest.read(dir.resolve(ModelManifest.FILE_NAME)).training().epochs());
  }
}
