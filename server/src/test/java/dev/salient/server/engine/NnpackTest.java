package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** NNPACK is switched off only where libtorch cannot start it. */
class NnpackTest {
  @Test
  void afterAnEngineLoadsNnpackIsEnabledExactlyWhenItIsAvailable() {
    ModelPackage fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(fashion))) {
      assertEquals(Nnpack.available(), Nnpack.userEnabled());
    }
  }
}
