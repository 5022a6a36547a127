package dev.salient.tools.evaluation;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.Ranking;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodContext;
import dev.salient.server.method.MethodRun;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs one method on many images at once, batching every run's next pass into shared engine
 * calls as the device worker does (runs whose passes differ in objective or extras get separate
 * calls): for evaluations over a data set, where one run at a time would be many times slower.
 */
public final class BatchedMethodRunner {
  private final PassEngine engine;
  private final ModelPackage model;
  private long engineNanos;

  /** A runner for {@code model} loaded in {@code engine}. */
  public BatchedMethodRunner(PassEngine engine, ModelPackage model) {
    this.engine = engine;
    this.model = model;
  }

  /** One finished run: its context (target resolved), its events, and its passes per image. */
  public record Outcome(MethodContext context, List<ExplainEvent> events, int passes) {
    /** The result event. */
    public ExplainEvent.Result result() {
      return (ExplainEvent.Result) events.get(events.size() - 1);
    }

    /** The frames, in order. */
    public List<ExplainEvent.Frame> frames() {
      return events.stream().filter(e -> e instanceof ExplainEvent.Frame)
          .map(e -> (ExplainEvent.Frame) e).toList();
    }
  }

  /**
   * Explains each of {@code images} for its {@code rank}-th best class (1 = predicted), the first
   * pass giving the prediction and the target logit's gradient as a job's does.
   */
  public List<Outcome> runRanked(ExplanationMethod method, Map<String, String> params,
      List<float[]> images, int rank) {
    ExplanationMethod.Prepared prepared = method.prepare(params);
    int[] ranks = new int[images.size()];
    java.util.Arrays.fill(ranks, rank);
    PassResult first = engine.run(model.name(),
        Pass.gradientOfRanked(images, Pass.Output.LOGIT, ranks));
    List<MethodRun> runs = new ArrayList<>();
    List<MethodContext> contexts = new ArrayList<>();
    List<List<ExplainEvent>> events = new ArrayList<>();
    int[] passes = new int[images.size()];
    for (int i = 0; i < images.size(); i++) {
      float[] logits = first.logits().get(i);
      MethodContext context = new MethodContext(model, images.get(i),
          Ranking.indexOfRank(logits, rank), logits, first.gradients().get(i),
          new MethodContext.FrameOptions(3, false));
      MethodRun run = prepared.start(context);
      contexts.add(context);
      runs.add(run);
      events.add(new ArrayList<>(run.initialEvents()));
      passes[i] = 1;
    }
    while (true) {
      // Group the runs whose next passes can share an engine call, as the device worker does.
      List<List<Integer>> groups = new ArrayList<>();
      for (int i = 0; i < runs.size(); i++) {
        Pass pass = runs.get(i).nextPass();
        if (pass == null) {
          continue;
        }
        List<Integer> group = groups.stream()
            .filter(g -> runs.get(g.get(0)).nextPass().canShareCallWith(pass))
            .findFirst().orElse(null);
        if (group == null) {
          group = new ArrayList<>();
          groups.add(group);
        }
        group.add(i);
      }
      if (groups.isEmpty()) {
        break;
      }
      for (List<Integer> group : groups) {
        List<Pass> groupPasses = group.stream().map(i -> runs.get(i).nextPass()).toList();
        long start = System.nanoTime();
        PassResult result = engine.run(model.name(), Pass.concat(groupPasses));
        engineNanos += System.nanoTime() - start;
        int row = 0;
        for (int g = 0; g < group.size(); g++) {
          int i = group.get(g);
          int n = groupPasses.get(g).size();
          passes[i] += n;
          events.get(i).addAll(runs.get(i).onPassResult(result.slice(row, row + n)));
          row += n;
        }
      }
    }
    List<Outcome> outcomes = new ArrayList<>();
    for (int i = 0; i < runs.size(); i++) {
      List<ExplainEvent> e = events.get(i);
      if (e.isEmpty() || !(e.get(e.size() - 1) instanceof ExplainEvent.Result)) {
        throw new AssertionError("run " + i + " stopped without a result event");
      }
      outcomes.add(new Outcome(contexts.get(i), e, passes[i]));
    }
    return outcomes;
  }

  /** Wall time spent in engine calls so far, milliseconds. */
  public long engineMillis() {
    return engineNanos / 1_000_000;
  }
}
