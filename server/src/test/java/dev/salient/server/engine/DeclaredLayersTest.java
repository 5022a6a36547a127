package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Loading a TorchScript model whose model.json declares its layers: a declaration that computes
 * the module gives a walker; one that does not, or that names parameters the module lacks, stops
 * the load with a message that names the layer and the fix.
 */
class DeclaredLayersTest {
  static final Path FIXTURES = Path.of("src/test/resources/models");

  @TempDir
  Path dir;

  @Test
  void aDeclarationThatComputesTheModuleGivesAWalkerOfItsLayers() {
    try (LoadedModel model = TorchScriptTwoPartModel.load(
        ModelPackage.read(FIXTURES.resolve("tiny-walkable")), Device.cpu())) {
      LayerWalker walker = model.walker();
      assertNotNull(walker);
      assertEquals(List.of(LayerWalk.Kind.CONV, LayerWalk.Kind.RELU, LayerWalk.Kind.FLATTEN,
          LayerWalk.Kind.LINEAR), walker.layers().stream().map(LayerWalk.Layer::kind).toList());
    }
  }

  @Test
  void aModelThatDeclaresNoLayersHasNoWalker() {
    try (LoadedModel model = TorchScriptTwoPartModel.load(
        ModelPackage.read(FIXTURES.resolve("tiny-two-part")), Device.cpu())) {
      assertNull(model.walker());
    }
  }

  @Test
  void aWrongPaddingIsCaughtWhereTheShapesStopFitting() throws IOException {
    ModelPackage pkg = twoPartWith("""
        {"kind": "conv", "parameters": "features.0"},
        {"kind": "relu"}, {"kind": "flatten"}, {"kind": "linear", "parameters": "head.1"}""");
    String message = loadFailure(pkg);
    assertTrue(message.contains("\"layers\"[3] (linear)"), message);
    assertTrue(message.contains("takes 72 inputs"), message);
  }

  @Test
  void aLayerLeftOutIsCaughtByComparingTheLogitsWithTheModules() throws IOException {
    // tiny-torchscript runs batch normalisation after its first convolution; leaving it out
    // keeps every shape but changes the numbers.
    ModelPackage pkg = copyWith("tiny-torchscript", List.of("model.pt", "labels.txt"), """
        {"kind": "conv", "parameters": "features.0", "padding": 1}, {"kind": "relu"},
        {"kind": "max_pool", "size": 2},
        {"kind": "conv", "parameters": "features.4", "padding": 1}, {"kind": "relu"},
        {"kind": "max_pool", "size": 2},
        {"kind": "flatten"}, {"kind": "linear", "parameters": "head.1"}, {"kind": "relu"},
        {"kind": "linear", "parameters": "head.3"}""", "\"weights\": \"model.pt\"");
    String message = loadFailure(pkg);
    assertTrue(message.contains("do not compute the TorchScript module"), message);
    assertTrue(message.contains("differ from the module's by up to"), message);
  }

  @Test
  void aParameterTheModuleLacksIsNamedWithTheParametersItHas() throws IOException {
    ModelPackage pkg = twoPartWith("""
        {"kind": "conv", "parameters": "features.3", "padding": 1},
        {"kind": "relu"}, {"kind": "flatten"}, {"kind": "linear", "parameters": "head.1"}""");
    String message = loadFailure(pkg);
    assertTrue(message.contains("no parameter features.3.weight"), message);
    assertTrue(message.contains("features.0.weight"), message);
  }

  @Test
  void aFrozenModuleIsToldToExportWithoutFreezing() throws IOException {
    // traced-64's model.pt is frozen: its weights are graph constants, not parameters.
    ModelPackage pkg = copyWith("traced-64", List.of("model.pt", "labels.txt"), """
        {"kind": "conv", "parameters": "0", "stride": 2, "padding": 1}, {"kind": "relu"},
        {"kind": "flatten"}, {"kind": "linear", "parameters": "9"}""",
        "\"weights\": \"model.pt\"");
    String message = loadFailure(pkg);
    assertTrue(message.contains("torch.jit.freeze"), message);
  }

  @Test
  void layersThatDoNotEndInTheLabelsLogitsAreRefused() throws IOException {
    ModelPackage pkg = twoPartWith("""
        {"kind": "conv", "parameters": "features.0", "padding": 1},
        {"kind": "relu"}, {"kind": "flatten"}""");
    String message = loadFailure(pkg);
    assertTrue(message.contains("not the (1, 3) logits"), message);
  }

  private ModelPackage twoPartWith(String layers) throws IOException {
    return copyWith("tiny-two-part", List.of("features.pt", "head.pt", "labels.txt"), layers,
        "\"feature_layer\": \"features.1\"");
  }

  private ModelPackage copyWith(String fixture, List<String> files, String layers,
      String extraField) throws IOException {
    ModelPackage original = ModelPackage.read(FIXTURES.resolve(fixture));
    for (String file : files) {
      Files.copy(FIXTURES.resolve(fixture).resolve(file), dir.resolve(file));
    }
    InputSpec in = original.input();
    String json = String.format(java.util.Locale.ROOT, """
        {"name": "declared", "format": "torchscript", "labels": "labels.txt", %s,
         "input": {"channels": %d, "height": %d, "width": %d, "mean": %s, "std": %s},
         "layers": [%s]}""", extraField, in.channels(), in.height(), in.width(),
        java.util.Arrays.toString(in.mean()), java.util.Arrays.toString(in.std()), layers);
    Files.writeString(dir.resolve("model.json"), json);
    return ModelPackage.read(dir);
  }

  private static String loadFailure(ModelPackage pkg) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> InferenceEngine.load("cpu", List.of(pkg)).close());
    assertTrue(e.getMessage().startsWith("model declared: model.json \"layers\""),
        e.getMessage());
    return e.getMessage();
  }
}
