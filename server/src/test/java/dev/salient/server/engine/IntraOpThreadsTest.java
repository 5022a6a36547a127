package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.pytorch.jni.JniUtils;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** How the engine picks libtorch's intra-op threads for each model and call size. */
class IntraOpThreadsTest {
  static final ModelPackage FASHION = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);

  @Test
  void theThreadsPropertyFixesTheThreadsOfEveryCall() {
    // The test JVM runs with -Dai.djl.pytorch.num_threads=1 (server/pom.xml).
    assertEquals("1", System.getProperty(InferenceEngine.THREADS_PROPERTY));
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(FASHION))) {
      assertEquals(1, engine.threads(FASHION.name(), 1));
      assertEquals(1, engine.threads(FASHION.name(), 32));
    }
  }

  @Test
  void withoutThePropertyEachCallSizeGetsOneThreadOrAllMeasuredOnThisMachine() {
    String fixed = System.clearProperty(InferenceEngine.THREADS_PROPERTY);
    int cores = Runtime.getRuntime().availableProcessors();
    try (InferenceEngine engine = InferenceEngine.load("cpu", List.of(FASHION))) {
      for (int images : new int[] {1, InferenceEngine.LARGE_CALL - 1, InferenceEngine.LARGE_CALL,
          64}) {
        int threads = engine.threads(FASHION.name(), images);
        assertTrue(Set.of(1, cores).contains(threads), images + " images: " + threads);
      }
      assertEquals(engine.threads(FASHION.name(), 1),
          engine.threads(FASHION.name(), InferenceEngine.LARGE_CALL - 1));
      assertEquals(engine.threads(FASHION.name(), InferenceEngine.LARGE_CALL),
          engine.threads(FASHION.name(), 64));
      Pass pass = Pass.gradient(List.of(TestImages.sample(0)), Pass.Output.LOGIT, new int[] {3},
          FASHION.numClasses());
      assertEquals(FASHION.numClasses(), engine.run(FASHION.name(), pass).logits().get(0).length);
    } finally {
      System.setProperty(InferenceEngine.THREADS_PROPERTY, fixed);
      JniUtils.setNumThreads(Integer.parseInt(fixed));
    }
  }
}
