package dev.salient.server.method;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A CPU engine over real model packages, loaded before a test class's tests and closed after
 * them. Register it with {@code @RegisterExtension static final LoadedEngine loaded =
 * LoadedEngine.of(LoadedEngine.fashionMnist());}.
 */
final class LoadedEngine implements BeforeAllCallback, AfterAllCallback {
  private final List<ModelPackage> models;
  private InferenceEngine engine;
  private MethodHarness harness;

  private LoadedEngine(List<ModelPackage> models) {
    this.models = models;
  }

  /** An engine serving {@code models}; the first is {@link #model()}. */
  static LoadedEngine of(ModelPackage... models) {
    return new LoadedEngine(List.of(models));
  }

  /** The default model: the Fashion-MNIST CNN packaged with the server. */
  static ModelPackage fashionMnist() {
    return ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
  }

  /** The tiny 3-channel TorchScript model among the test resources. */
  static ModelPackage tinyColour() {
    return ModelPackage.read(Path.of("src/test/resources/models/tiny-torchscript"));
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    engine = InferenceEngine.load("cpu", models);
    harness = new MethodHarness(engine, models.get(0));
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (engine != null) {
      engine.close();
    }
  }

  InferenceEngine engine() {
    if (engine == null) {
      throw new IllegalStateException("register the LoadedEngine with @RegisterExtension static");
    }
    return engine;
  }

  /** The first model. */
  ModelPackage model() {
    return models.get(0);
  }

  /** Runs methods on the first model. */
  MethodHarness harness() {
    engine();
    return harness;
  }
}
