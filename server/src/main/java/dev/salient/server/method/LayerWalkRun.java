package dev.salient.server.method;

import dev.salient.server.engine.LayerWalk;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import java.util.List;

/**
 * A white-box run: one forward pass that returns the image's {@link LayerWalk}, which the method
 * then walks backwards with its own rules, a frame per layer.
 */
abstract class LayerWalkRun implements MethodRun {
  /** What a model needs for the white-box methods, said when one that lacks it is asked for. */
  static final String REQUIREMENT = "the white-box methods walk the model layer by layer, so "
      + "they need a builtin architecture made only of convolution, ReLU, max-pooling, flatten "
      + "and linear layers (the default model's fashion-cnn-v1; ResNet-18's residual additions "
      + "and batch normalisation have no rule), or a TorchScript model whose model.json declares "
      + "its \"layers\" (docs/models.md, docs/methods/whitebox.md)";

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

  /** Whether {@code model}'s layers can be walked. */
  static boolean supported(ModelPackage model) {
    return LayerWalk.walkable(model);
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
