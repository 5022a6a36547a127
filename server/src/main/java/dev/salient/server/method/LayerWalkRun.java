package dev.salient.server.method;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A white-box run: one forward pass that returns the image's {@link LayerWalk}, which the method
 * then walks backwards with its own rules, a frame per layer.
 */
abstract class LayerWalkRun implements MethodRun {
  /** What a model needs for the white-box methods, said when one that lacks it is asked for. */
  static final String REQUIREMENT = "the white-box methods walk the model layer by layer, so "
      + "they need a builtin architecture (the default model's fashion-cnn-v1; ResNet-18 for "
      + "rectgrad, rectgrad_nobias and visual_backprop) or a TorchScript model whose model.json "
      + "declares its \"layers\" (docs/models.md), made only of layers the method has a rule "
      + "for (docs/methods/whitebox.md)";

  /** Every kind of layer the gradient rules of rectgrad and visual_backprop's scaling cover. */
  static final Set<LayerWalk.Kind> ALL_KINDS = EnumSet.allOf(LayerWalk.Kind.class);

  protected final MethodContext context;
  private final boolean alone;
  private boolean done;

  /**
   * A run on {@code context}; with {@code alone} its pass runs one image per engine call, for
   * methods whose decisions (a percentile threshold) must not move with float rounding.
   */
  LayerWalkRun(MethodContext context, boolean alone) {
    this.context = context;
    this.alone = alone;
  }

  /** Whether {@code model}'s layers can be walked and are all of kinds in {@code rules}. */
  static boolean supported(ModelPackage model, Set<LayerWalk.Kind> rules) {
    Set<LayerWalk.Kind> kinds = LayerWalk.kinds(model);
    return !kinds.isEmpty() && rules.containsAll(kinds);
  }

  /**
   * What {@code model} lacks for {@code method}, whose rules cover the kinds {@code rules}: that
   * it cannot be walked, or the kinds of layer it has that no rule covers.
   */
  static String requirement(ModelPackage model, String method, Set<LayerWalk.Kind> rules) {
    Set<LayerWalk.Kind> kinds = LayerWalk.kinds(model);
    if (kinds.isEmpty()) {
      return "model " + model.name() + "'s layers cannot be walked: " + REQUIREMENT;
    }
    Set<LayerWalk.Kind> missing = EnumSet.copyOf(kinds);
    missing.removeAll(rules);
    return "model " + model.name() + " has " + names(missing) + " layers, which " + method
        + " has no rule for; its rules cover " + names(rules) + " (docs/methods/whitebox.md)";
  }

  private static String names(Set<LayerWalk.Kind> kinds) {
    return kinds.stream().map(k -> k.name().toLowerCase(Locale.ROOT))
        .collect(Collectors.joining(", "));
  }

  /** The frames and result from {@code walk}, after {@code passes} passes in all. */
  protected abstract List<ExplainEvent> events(LayerWalk walk, int passes);

  @Override
  public final Pass nextPass() {
    if (done) {
      return null;
    }
    Pass pass = new Pass(List.of(context.image()), null, Pass.Extras.LAYER_WALK);
    return alone ? pass.runAlone() : pass;
  }

  @Override
  public final List<ExplainEvent> onPassResult(PassResult result) {
    done = true;
    if (result.walks() == null || result.walks().size() != 1) {
      throw new IllegalStateException("the engine returned no layer walk");
    }
    return events(result.walks().get(0), 2);
  }
}
