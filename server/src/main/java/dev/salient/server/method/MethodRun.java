package dev.salient.server.method;

import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import java.util.List;

/**
 * One running explanation as a state machine: the caller asks for the next pass, runs it
 * (batched with other requests' passes), and hands back its result, until there is no next pass.
 * The last events it returns end with exactly one {@link ExplainEvent.Result}.
 */
public interface MethodRun {

  /**
   * Events the run can send before any pass of its own, from the context alone (e.g. a method
   * whose answer is the context's gradient). Called once, before {@link #nextPass()}.
   */
  default List<ExplainEvent> initialEvents() {
    return List.of();
  }

  /**
   * The next pass this run needs, or null when it has finished. Calling it again before the
   * result arrives returns the same pass: the worker may look at it without running it.
   */
  Pass nextPass();

  /** Consumes the result of the pass last returned by {@link #nextPass()}. */
  List<ExplainEvent> onPassResult(PassResult result);
}
