package dev.salient.server.engine;

import ai.djl.nn.Block;
import dev.salient.server.engine.builtin.FashionCnn;
import dev.salient.server.engine.builtin.ResNet18;
import java.util.Map;
import java.util.function.Supplier;

/** The networks Salient defines in Java, by the {@code architecture} id of model.json. */
public final class BuiltinArchitectures {

  /**
   * How to build an architecture, and from how many images a CPU pass runs it with its
   * activations in channels-last memory layout (0: never), where that was measured faster.
   */
  private record Architecture(Supplier<Block> factory, int channelsLastFromImages) {}

  private static final Map<String, Architecture> ARCHITECTURES = Map.of(
      FashionCnn.ID, new Architecture(FashionCnn::newBlock, FashionCnn.CHANNELS_LAST_FROM_IMAGES),
      // Measured too: 0.96x at 1 image, 1.05-1.07x at 4 (two threads), not worth a copy.
      ResNet18.ID, new Architecture(ResNet18::newBlock, 0));

  private BuiltinArchitectures() {}

  /** A new, uninitialised block of architecture {@code id}. */
  public static Block newBlock(String id) {
    return architecture(id).factory().get();
  }

  /**
   * From how many images a CPU pass of architecture {@code id} runs channels-last; 0 for never.
   */
  static int channelsLastFromImages(String id) {
    return architecture(id).channelsLastFromImages();
  }

  private static Architecture architecture(String id) {
    Architecture architecture = ARCHITECTURES.get(id);
    if (architecture == null) {
      throw new IllegalArgumentException(
          "unknown builtin architecture \"" + id + "\"; known: " + ARCHITECTURES.keySet());
    }
    return architecture;
  }
}
