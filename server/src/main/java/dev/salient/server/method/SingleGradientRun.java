package dev.salient.server.method;

import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import java.util.List;

/**
 * A run that needs one input gradient of the target at the image: taken from the job's first
 * pass when it differentiates the logit, otherwise from one pass of its own.
 */
abstract class SingleGradientRun implements MethodRun {
  protected final MethodContext context;
  private final Pass.Output output;
  private boolean done;

  SingleGradientRun(MethodContext context, Pass.Output output) {
    this.context = context;
    this.output = output;
  }

  /** The frame and result for {@code gradient}, after {@code passes} passes in all. */
  protected abstract List<ExplainEvent> events(float[] logits, float[] gradient, int passes);

  @Override
  public final List<ExplainEvent> initialEvents() {
    // The logit's gradient came with the prediction: no pass of its own is needed.
    if (output == Pass.Output.LOGIT && context.logitGradient() != null) {
      done = true;
      return events(context.logits(), context.logitGradient(), 1);
    }
    return List.of();
  }

  @Override
  public final Pass nextPass() {
    if (done) {
      return null;
    }
    return Pass.gradient(List.of(context.image()), output, new int[] {context.target()},
        context.model().numClasses());
  }

  @Override
  public final List<ExplainEvent> onPassResult(PassResult result) {
    done = true;
    return events(result.logits().get(0), result.gradients().get(0), 2);
  }
}
