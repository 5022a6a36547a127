package dev.salient.server.engine;

import ai.djl.nn.Block;
import dev.salient.server.engine.builtin.FashionCnn;
import dev.salient.server.engine.builtin.ResNet18;
import java.util.Map;
import java.util.function.Supplier;

/** The networks Salient defines in Java, by the {@code architecture} id of model.json. */
public final class BuiltinArchitectures {
  private static final Map<String, Supplier<Block>> ARCHITECTURES =
      Map.of(FashionCnn.ID, FashionCnn::newBlock, ResNet18.ID, ResNet18::newBlock);

  private BuiltinArchitectures() {}

  /** A new, uninitialised block of architecture {@code id}. */
  public static Block newBlock(String id) {
    Supplier<Block> factory = ARCHITECTURES.get(id);
    if (factory == null) {
      throw new IllegalArgumentException(
          "unknown builtin architecture \"" + id + "\"; known: " + ARCHITECTURES.keySet());
    }
    return factory.get();
  }
}
