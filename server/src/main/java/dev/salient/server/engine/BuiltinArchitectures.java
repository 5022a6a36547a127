package dev.salient.server.engine;

import static dev.salient.server.engine.LayerWalk.Kind.CONV;
import static dev.salient.server.engine.LayerWalk.Kind.FLATTEN;
import static dev.salient.server.engine.LayerWalk.Kind.LINEAR;
import static dev.salient.server.engine.LayerWalk.Kind.MAX_POOL;
import static dev.salient.server.engine.LayerWalk.Kind.RELU;

import ai.djl.nn.Block;
import dev.salient.server.engine.builtin.FashionCnn;
import dev.salient.server.engine.builtin.ResNet18;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** The networks Salient defines in Java, by the {@code architecture} id of model.json. */
public final class BuiltinArchitectures {

  /**
   * How to build an architecture, and from how many images a CPU pass runs it with its
   * activations in channels-last memory layout (0: never), where that was measured faster.
   */
  private record Architecture(Supplier<Block> factory, int channelsLastFromImages,
      List<LayerWalk.Kind> walk) {}

  private static final Map<String, Architecture> ARCHITECTURES = Map.of(
      FashionCnn.ID, new Architecture(FashionCnn::newBlock, FashionCnn.CHANNELS_LAST_FROM_IMAGES,
          List.of(CONV, RELU, MAX_POOL, CONV, RELU, MAX_POOL, FLATTEN, LINEAR, RELU, LINEAR)),
      // Measured too: 0.96x at 1 image, 1.05-1.07x at 4 (two threads), not worth a copy.
      // Not walkable: residual additions and batch normalisation have no rule in the seeds.
      ResNet18.ID, new Architecture(ResNet18::newBlock, 0, null));

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

  /** Whether the white-box methods can walk architecture {@code id} layer by layer. */
  static boolean walkable(String id) {
    Architecture architecture = ARCHITECTURES.get(id);
    return architecture != null && architecture.walk() != null;
  }

  /**
   * The kinds of the top-level layers of architecture {@code id}, in order, when it can be
   * walked; null when it cannot.
   */
  static List<LayerWalk.Kind> walk(String id) {
    return architecture(id).walk();
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
