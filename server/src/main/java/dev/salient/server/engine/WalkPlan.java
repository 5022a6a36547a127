package dev.salient.server.engine;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * How a built-in block's tree of DJL blocks maps onto a {@link LayerWalk}'s graph: which leaf is
 * which kind of layer, where a residual block adds its branches. {@link LayerWalker} follows it
 * over the blocks and checks every block against it when the model loads.
 */
sealed interface WalkPlan {

  /** The kinds of layer the walk will have. */
  Set<LayerWalk.Kind> kinds();

  /** A leaf block that is one layer of {@code kind}. */
  record Leaf(LayerWalk.Kind kind) implements WalkPlan {
    @Override
    public Set<LayerWalk.Kind> kinds() {
      return EnumSet.of(kind);
    }
  }

  /**
   * A max-pooling leaf with its window, which a DJL pooling block does not expose ({@code kernel}
   * 0: non-overlapping windows, told from the shapes).
   */
  record MaxPool(int kernel, int stride, int padding) implements WalkPlan {
    @Override
    public Set<LayerWalk.Kind> kinds() {
      return EnumSet.of(LayerWalk.Kind.MAX_POOL);
    }
  }

  /** A {@code SequentialBlock} whose children follow {@code children} in order. */
  record Sequence(List<WalkPlan> children) implements WalkPlan {
    /** Copies the list. */
    public Sequence {
      children = List.copyOf(children);
    }

    @Override
    public Set<LayerWalk.Kind> kinds() {
      Set<LayerWalk.Kind> kinds = EnumSet.noneOf(LayerWalk.Kind.class);
      children.forEach(c -> kinds.addAll(c.kinds()));
      return kinds;
    }
  }

  /**
   * A {@code ParallelBlock} of two branches on one input whose outputs are added: a residual
   * block, walked as both branches and an {@link LayerWalk.Kind#ADD} that reads the main
   * branch's output first.
   */
  record Residual(WalkPlan main, WalkPlan shortcut) implements WalkPlan {
    @Override
    public Set<LayerWalk.Kind> kinds() {
      Set<LayerWalk.Kind> kinds = EnumSet.of(LayerWalk.Kind.ADD);
      kinds.addAll(main.kinds());
      kinds.addAll(shortcut.kinds());
      return kinds;
    }
  }

  /** A block that hands on its input unchanged (an identity shortcut): no layer. */
  record Identity() implements WalkPlan {
    @Override
    public Set<LayerWalk.Kind> kinds() {
      return EnumSet.noneOf(LayerWalk.Kind.class);
    }
  }

  /** A sequence of leaves of {@code kinds} (non-overlapping max pooling). */
  static Sequence of(List<LayerWalk.Kind> kinds) {
    return new Sequence(kinds.stream()
        .map(k -> k == LayerWalk.Kind.MAX_POOL ? new MaxPool(0, 0, 0) : (WalkPlan) new Leaf(k))
        .toList());
  }
}
