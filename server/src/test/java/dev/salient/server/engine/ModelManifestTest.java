package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** model.json's one schema: written and read back, the required fields, the optional ones. */
class ModelManifestTest {

  @TempDir Path dir;

  static ModelManifest full() {
    Map<String, BigDecimal> metrics = new LinkedHashMap<>();
    metrics.put("test_accuracy", new BigDecimal("0.9192"));
    metrics.put("train_accuracy", new BigDecimal("0.9480"));
    return new ModelManifest("fashion-mnist", "a small CNN", ModelManifest.BUILTIN,
        "fashion-cnn-v1", "weights.params", "labels.txt",
        new ModelManifest.Input(1, 28, 28, 0.0, 1.0, List.of(new BigDecimal("0.2860")),
            List.of(new BigDecimal("0.3530"))),
        "4", metrics,
        new ModelManifest.Training("Fashion-MNIST", 10, 64, "Adam", 0.001, 42, "./salient train"));
  }

  @Test
  void writtenManifestReadsBackEqualWithItsDecimalsKept() throws IOException {
    Path file = dir.resolve("model.json");
    ModelManifest written = full();

    written.write(file);

    assertEquals(written, ModelManifest.read(file));
    String text = Files.readString(file);
    assertTrue(text.contains("\"mean\" : [ 0.2860 ]"), text);
    assertTrue(text.contains("\"train_accuracy\" : 0.9480"), text);
    assertTrue(text.contains("\"pixel_min\" : 0.0"), "snake_case names: " + text);
  }

  @Test
  void nullFieldsAreLeftOutAndAbsentOptionalFieldsReadAsNull() throws IOException {
    Path file = dir.resolve("model.json");
    new ModelManifest("m", null, ModelManifest.TORCHSCRIPT, null, null, "labels.txt",
        new ModelManifest.Input(3, 8, 8, null, null, null, null), null, null, null).write(file);

    String text = Files.readString(file);
    assertFalse(text.contains("null"), text);
    ModelManifest read = ModelManifest.read(file);
    assertNull(read.weights());
    assertNull(read.metrics());
    assertNull(read.training());
  }

  @Test
  void absentMeanAndStdMeanNoNormalisation() throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"torchscript\",\"labels\":\"l.txt\","
        + "\"input\":{\"channels\":3,\"height\":4,\"width\":5}}");

    InputSpec spec = ModelManifest.read(file).input().toSpec();

    assertArrayEquals(new float[] {0, 0, 0}, spec.mean());
    assertArrayEquals(new float[] {1, 1, 1}, spec.std());
    assertEquals(0f, spec.pixelMin());
    assertEquals(1f, spec.pixelMax());
  }

  @ParameterizedTest
  @ValueSource(strings = {"name", "format", "labels", "input", "channels", "height", "width"})
  void aMissingRequiredFieldIsNamedWithTheFile(String field) throws IOException {
    String json = "{\"name\":\"m\",\"format\":\"torchscript\",\"labels\":\"l.txt\","
        + "\"input\":{\"channels\":3,\"height\":4,\"width\":5}}";
    json = json.replaceFirst("\"" + field + "\":(\\{[^}]*}|\"[^\"]*\"|\\d+),?", "")
        .replace(",}", "}");
    Path file = dir.resolve("model.json");
    Files.writeString(file, json);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file), json);

    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("\"" + field + "\""), e.getMessage());
  }

  @Test
  void aBuiltinModelNeedsItsArchitectureAndWeights() throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"builtin\",\"weights\":\"w\","
        + "\"labels\":\"l.txt\",\"input\":{\"channels\":1,\"height\":4,\"width\":4}}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("\"architecture\""), e.getMessage());
  }

  @Test
  void anUnknownFormatIsNamed() throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"onnx\",\"labels\":\"l.txt\","
        + "\"input\":{\"channels\":1,\"height\":4,\"width\":4}}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("\"onnx\""), e.getMessage());
  }

  @Test
  void invalidJsonNamesTheFile() throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\": ");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  /** Every model.json in the repository is loadable: the default model and the test fixtures. */
  @ParameterizedTest
  @ValueSource(strings = {"src/main/resources/models/fashion-mnist",
      "src/test/resources/models/tiny-torchscript", "src/test/resources/models/tiny-two-part",
      "src/test/resources/models/colour-224"})
  void everyPackageInTheRepositoryReads(String directory) {
    ModelManifest manifest = ModelManifest.read(Path.of(directory, "model.json"));
    ModelPackage model = ModelPackage.read(Path.of(directory));

    assertEquals(manifest.name(), model.name());
    assertEquals(manifest.input().channels(), model.input().channels());
    assertTrue(model.numClasses() >= 2);
  }

  @Test
  void theDefaultModelKeepsItsNormalisationAndMetrics() {
    ModelPackage model = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);

    assertArrayEquals(new float[] {0.2860f}, model.input().mean());
    assertArrayEquals(new float[] {0.3530f}, model.input().std());
    assertEquals(0.9192, model.metrics().get("test_accuracy"), 1e-12);
    assertEquals("4", model.featureLayer());
  }
}
