package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model content hash names the package's bytes, wherever the package lies. */
class ModelContentHashTest {
  static final ModelPackage EMBEDDED =
      ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);

  @Test
  void aCopyOfAPackageHasItsHashAndOneChangedWeightByteAnother(@TempDir Path dir)
      throws IOException {
    Path same = copy(dir.resolve("same"));
    Path changed = copy(dir.resolve("changed"));
    byte[] weights = Files.readAllBytes(changed.resolve(EMBEDDED.weights()));
    weights[weights.length / 2] ^= 1;
    Files.write(changed.resolve(EMBEDDED.weights()), weights);

    String embedded = ModelContentHash.of(EMBEDDED);

    assertTrue(embedded.matches("[0-9a-f]{64}"), embedded);
    assertEquals(embedded, ModelContentHash.of(ModelPackage.read(same)));
    assertNotEquals(embedded, ModelContentHash.of(ModelPackage.read(changed)));
  }

  private static Path copy(Path target) throws IOException {
    Files.createDirectories(target);
    for (String file : List.of(ModelManifest.FILE_NAME, "labels.txt", EMBEDDED.weights())) {
      try (InputStream in = EMBEDDED.location().open(file)) {
        Files.copy(in, target.resolve(file));
      }
    }
    return target;
  }
}
