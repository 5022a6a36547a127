package dev.salient.server.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The committed Fashion-MNIST samples (samples/fashion-mnist), decoded for the default model. */
public final class TestImages {
  /** Where the samples are, from the server module's directory. */
  public static final Path DIRECTORY = Path.of("..", "samples", "fashion-mnist");

  private static final List<Path> FILES = list();

  private TestImages() {}

  private static List<Path> list() {
    try (Stream<Path> files = Files.list(DIRECTORY)) {
      return files.filter(p -> p.toString().endsWith(".png")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Number of samples. */
  public static int count() {
    return FILES.size();
  }

  /** The file of sample {@code i}. */
  public static Path file(int i) {
    return FILES.get(i);
  }

  /** The PNG bytes of sample {@code i}. */
  public static byte[] bytes(int i) {
    try {
      return Files.readAllBytes(FILES.get(i));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Sample {@code i} as default-model pixels. */
  public static float[] sample(int i) {
    return ImageDecoder.decode(bytes(i),
        ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE).input());
  }

  /** The true class index of sample {@code i}, from its file name. */
  public static int label(int i, ModelPackage model) {
    String name = FILES.get(i).getFileName().toString();
    for (int c = 0; c < model.numClasses(); c++) {
      String safe = model.labels().get(c).replaceAll("[^A-Za-z0-9-]", "_");
      if (name.startsWith("_" + safe + "_idx", name.indexOf('_'))) {
        return c;
      }
    }
    throw new IllegalStateException("no label in sample name " + name);
  }
}
