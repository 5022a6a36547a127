package dev.salient.server.engine;

import static dev.salient.server.engine.LayerWalk.Kind.AVG_POOL;
import static dev.salient.server.engine.LayerWalk.Kind.BATCH_NORM;
import static dev.salient.server.engine.LayerWalk.Kind.CONV;
import static dev.salient.server.engine.LayerWalk.Kind.FLATTEN;
import static dev.salient.server.engine.LayerWalk.Kind.LINEAR;
import static dev.salient.server.engine.LayerWalk.Kind.MAX_POOL;
import static dev.salient.server.engine.LayerWalk.Kind.RELU;

import ai.djl.nn.Block;
import dev.salient.server.engine.builtin.FashionCnn;
import dev.salient.server.engine.builtin.ResNet18;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/** The networks Salient defines in Java, by the {@code architecture} id of model.json. */
public final class BuiltinArchitectures {

  /**
   * How to build an architecture, and from how many images a CPU pass runs it with its
   * activations in channels-last memory layout (0: never), where that was measured faster.
   */
  private record Architecture(Supplier<Block> factory, int channelsLastFromImages,
      WalkPlan.Sequence walk) {}

  private static final Map<String, Architecture> ARCHITECTURES = Map.of(
      FashionCnn.ID, new Architecture(FashionCnn::newBlock, FashionCnn.CHANNELS_LAST_FROM_IMAGES,
          WalkPlan.of(List.of(CONV, RELU, MAX_POOL, CONV, RELU, MAX_POOL, FLATTEN, LINEAR, RELU,
              LINEAR))),
      // Measured too: 0.96x at 1 image, 1.05-1.07x at 4 (two threads), not worth a copy.
      ResNet18.ID, new Architecture(ResNet18::newBlock, 0, resNet18Walk()));

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

  /**
   * The kinds of layer a walk of architecture {@code id} has; empty when it cannot be walked or
   * is unknown.
   */
  static Set<LayerWalk.Kind> walkKinds(String id) {
    Architecture architecture = ARCHITECTURES.get(id);
    return architecture == null || architecture.walk() == null
        ? EnumSet.noneOf(LayerWalk.Kind.class) : architecture.walk().kinds();
  }

  /** How the blocks of architecture {@code id} are walked; null when they cannot be. */
  static WalkPlan.Sequence walk(String id) {
    return architecture(id).walk();
  }

  /**
   * ResNet-18's walk, following {@link ResNet18#newBlock}: the stem, eight basic blocks (a
   * residual of conv-BN-ReLU-conv-BN and an identity or 1x1 conv-BN shortcut, then a ReLU),
   * global average pooling, flatten, linear.
   */
  private static WalkPlan.Sequence resNet18Walk() {
    List<WalkPlan> net = new ArrayList<>(List.of(new WalkPlan.Leaf(CONV),
        new WalkPlan.Leaf(BATCH_NORM), new WalkPlan.Leaf(RELU), new WalkPlan.MaxPool(3, 2, 1)));
    WalkPlan main = new WalkPlan.Sequence(List.of(new WalkPlan.Leaf(CONV),
        new WalkPlan.Leaf(BATCH_NORM), new WalkPlan.Leaf(RELU), new WalkPlan.Leaf(CONV),
        new WalkPlan.Leaf(BATCH_NORM)));
    WalkPlan projection = new WalkPlan.Sequence(List.of(new WalkPlan.Leaf(CONV),
        new WalkPlan.Leaf(BATCH_NORM)));
    for (int stage = 0; stage < 4; stage++) {
      for (int block = 0; block < 2; block++) {
        WalkPlan shortcut = stage > 0 && block == 0 ? projection : new WalkPlan.Identity();
        net.add(new WalkPlan.Sequence(List.of(new WalkPlan.Residual(main, shortcut),
            new WalkPlan.Leaf(RELU))));
      }
    }
    net.addAll(List.of(new WalkPlan.Leaf(AVG_POOL), new WalkPlan.Leaf(FLATTEN),
        new WalkPlan.Leaf(LINEAR)));
    return new WalkPlan.Sequence(net);
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
