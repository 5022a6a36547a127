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

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"kind\":\"batch_norm\",\"parameters\":\"f.1\"}|needs a \"kind\" of [conv, relu",
      "{\"kind\":\"conv\"}|(conv) needs \"parameters\"",
      "{\"kind\":\"relu\",\"parameters\":\"f.1\"}|(relu) has no weights",
      "{\"kind\":\"linear\",\"parameters\":\"h\",\"stride\":2}|only a conv does",
      "{\"kind\":\"max_pool\"}|(max_pool) needs \"size\"",
      "{\"kind\":\"conv\",\"parameters\":\"f.0\",\"padding\":-1}|\"padding\" of at least 0"})
  void aBadLayerDeclarationIsRefusedNamingTheLayerAndTheFix(String layerAndMessage)
      throws IOException {
    String[] parts = layerAndMessage.split("\\|");
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"torchscript\",\"labels\":\"l.txt\","
        + "\"input\":{\"channels\":1,\"height\":4,\"width\":4},"
        + "\"layers\":[{\"kind\":\"relu\"}," + parts[0] + "]}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("\"layers\"[1]"), e.getMessage());
    assertTrue(e.getMessage().contains(parts[1]), e.getMessage());
  }

  @Test
  void aBuiltinModelDeclaresNoLayers() throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"builtin\",\"architecture\":\"a\","
        + "\"weights\":\"w\",\"labels\":\"l.txt\",\"input\":{\"channels\":1,\"height\":4,"
        + "\"width\":4},\"layers\":[{\"kind\":\"relu\"}]}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("only a torchscript model needs"), e.getMessage());
  }

  private Path manifestWithPreprocessing(String preprocessing) throws IOException {
    Path file = dir.resolve("model.json");
    Files.writeString(file, "{\"name\":\"m\",\"format\":\"torchscript\",\"labels\":\"l.txt\","
        + "\"input\":{\"channels\":3,\"height\":224,\"width\":224}"
        + (preprocessing == null ? "" : ",\"preprocessing\":" + preprocessing) + "}");
    return file;
  }

  @Test
  void absentPreprocessingStretchesWithBilinearAndKeepsStoredSamples() throws IOException {
    ModelManifest manifest = ModelManifest.read(manifestWithPreprocessing(null));

    Preprocessing steps = manifest.toSpec("model.json").preprocessing();

    assertEquals(Preprocessing.DEFAULT, steps);
    assertEquals(Preprocessing.Filter.BILINEAR, steps.resize());
    assertEquals(Preprocessing.Crop.NONE, steps.crop());
    assertEquals(Preprocessing.ColorManagement.NONE, steps.colorManagement());
  }

  @Test
  void resizeShortSideAloneMeansACentreCrop() throws IOException {
    ModelManifest manifest = ModelManifest.read(
        manifestWithPreprocessing("{\"resize\":\"bicubic\",\"resize_short_side\":256}"));

    Preprocessing steps = manifest.toSpec("model.json").preprocessing();

    assertEquals(new Preprocessing(Preprocessing.Filter.BICUBIC, 256, Preprocessing.Crop.CENTER,
        Preprocessing.ColorManagement.NONE), steps);
  }

  @Test
  void writtenPreprocessingReadsBackEqual() throws IOException {
    Path file = dir.resolve("model.json");
    ModelManifest base = full();
    Preprocessing steps = new Preprocessing(Preprocessing.Filter.AREA, 32,
        Preprocessing.Crop.CENTER, Preprocessing.ColorManagement.ICC_TO_SRGB);
    ModelManifest written = new ModelManifest(base.name(), base.description(), base.format(),
        base.architecture(), base.weights(), base.labels(), base.input(),
        ModelManifest.ImagePreprocessing.of(steps), base.featureLayer(), base.metrics(),
        base.training());

    written.write(file);

    ModelManifest read = ModelManifest.read(file);
    assertEquals(written, read);
    assertEquals(steps, read.toSpec(file.toString()).preprocessing());
    assertTrue(Files.readString(file).contains("\"color_management\" : \"icc_to_srgb\""));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "resize:lanczos:\"bilinear\", \"bicubic\", \"area\", \"nearest\"",
      "crop:random:\"none\", \"center\"",
      "color_management:display_p3:\"none\", \"icc_to_srgb\""})
  void anUnknownPreprocessingValueIsRejectedListingTheAllowedOnes(String fieldValueAllowed)
      throws IOException {
    String[] parts = fieldValueAllowed.split(":", 3);
    String extra = parts[0].equals("crop") ? ",\"resize_short_side\":256" : "";
    Path file = manifestWithPreprocessing(
        "{\"" + parts[0] + "\":\"" + parts[1] + "\"" + extra + "}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("\"preprocessing\""), e.getMessage());
    assertTrue(e.getMessage().contains("\"" + parts[1] + "\""), e.getMessage());
    assertTrue(e.getMessage().contains(parts[2]), e.getMessage());
  }

  @Test
  void aCentreCropWithoutResizeShortSideIsRejected() throws IOException {
    Path file = manifestWithPreprocessing("{\"crop\":\"center\"}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("needs \"resize_short_side\""), e.getMessage());
  }

  @Test
  void resizeShortSideWithCropNoneIsRejected() throws IOException {
    Path file = manifestWithPreprocessing("{\"crop\":\"none\",\"resize_short_side\":256}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("\"resize_short_side\" needs \"crop\": \"center\""),
        e.getMessage());
  }

  @Test
  void aShortSideShorterThanTheCropIsRejectedNamingTheSmallestThatFits() throws IOException {
    Path file = manifestWithPreprocessing("{\"resize_short_side\":200}");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.read(file));

    assertTrue(e.getMessage().contains("at least 224"), e.getMessage());
  }

  /** Every model.json in the repository is loadable: the default model and the test fixtures. */
  @ParameterizedTest
  @ValueSource(strings = {"src/main/resources/models/fashion-mnist",
      "src/test/resources/models/tiny-torchscript", "src/test/resources/models/tiny-two-part",
      "src/test/resources/models/colour-224", "src/test/resources/models/traced-64",
      "src/test/resources/models/tiny-walkable", "src/test/resources/models/fused-walkable",
      "src/test/resources/models/pooled-walkable"})
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
