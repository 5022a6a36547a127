package dev.salient.server.method;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs a method synchronously on an engine, the way a device worker does for one job, without
 * actors or gRPC: for method tests and evaluations.
 */
public final class MethodHarness {
  private final PassEngine engine;
  private final ModelPackage model;

  /** A harness for {@code model} loaded in {@code engine}. */
  public MethodHarness(PassEngine engine, ModelPackage model) {
    this.engine = engine;
    this.model = model;
  }

  /** The outcome of one run; passes and engine calls include the job's first pass. */
  public record Run(MethodContext context, List<ExplainEvent> events, int passes, int engineCalls) {
    /** The frames, in order. */
    public List<ExplainEvent.Frame> frames() {
      return events.stream().filter(e -> e instanceof ExplainEvent.Frame)
          .map(e -> (ExplainEvent.Frame) e).toList();
    }

    /** The result event. */
    public ExplainEvent.Result result() {
      return (ExplainEvent.Result) events.get(events.size() - 1);
    }

    /** A map of the result by name. */
    public ExplainEvent.SaliencyMap map(String name) {
      return result().maps().stream().filter(m -> m.name().equals(name)).findFirst()
          .orElseThrow(() -> new AssertionError("no map " + name));
    }
  }

  /** The model's logits for {@code image}. */
  public float[] logits(float[] image) {
    return engine.run(model.name(), Pass.forward(List.of(image))).logits().get(0);
  }

  /** Explains {@code image} for class {@code target} with {@code method} and {@code params}. */
  public Run run(ExplanationMethod method, Map<String, String> params, float[] image, int target) {
    return run(method, params, image, target, new MethodContext.FrameOptions(5, false));
  }

  /** As {@link #run(ExplanationMethod, Map, float[], int)}, with frame options. */
  public Run run(ExplanationMethod method, Map<String, String> params, float[] image, int target,
      MethodContext.FrameOptions frames) {
    // The first pass, as a job does it: the prediction and the target logit's gradient.
    PassResult first = engine.run(model.name(),
        Pass.gradient(List.of(image), Pass.Output.LOGIT, new int[] {target}, model.numClasses()));
    MethodContext context = new MethodContext(model, image, target, first.logits().get(0),
        first.gradients().get(0), frames);
    MethodRun run = method.prepare(params).start(context);
    List<ExplainEvent> events = new ArrayList<>(run.initialEvents());
    int passes = 1;
    int calls = 1;
    for (Pass pass = run.nextPass(); pass != null; pass = run.nextPass()) {
      PassResult result = engine.run(model.name(), pass);
      passes += pass.size();
      calls++;
      events.addAll(run.onPassResult(result));
      if (calls > 100_000) {
        throw new AssertionError("method did not stop after 100000 passes");
      }
    }
    if (events.isEmpty() || !(events.get(events.size() - 1) instanceof ExplainEvent.Result)) {
      throw new AssertionError("method stopped without a result event");
    }
    return new Run(context, events, passes, calls);
  }
}
