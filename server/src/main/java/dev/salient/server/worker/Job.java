package dev.salient.server.worker;

import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.ModelContentHash;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodContext;
import dev.salient.server.method.MethodRun;
import dev.salient.server.render.FigureRenderer;
import dev.salient.server.render.OverlayRenderer;
import dev.salient.server.util.ServerVersion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One request inside a device worker: first a forward pass for the prediction (the started
 * event), then the method's passes, with frames thinned to the client's stride and overlays
 * rendered on request. Owned by one worker; not thread-safe.
 */
final class Job {
  private final long id;
  private final ExplainOrder order;
  private final ModelPackage model;
  private final ExplanationMethod.Prepared method;
  private final EventSink sink;
  private final DecodeBudget decodeBudget;
  private final long startNanos = System.nanoTime();
  private MethodRun run;
  private int targetClass;
  /** The class explained with the model's score for it, for the figures' titles. */
  private ExplainEvent.ClassScore targetScore;
  private boolean finished;
  private int passes;
  /** Results of the first rows of the next pass, run in calls of their own (slices). */
  private final List<PassResult> doneSlices = new ArrayList<>();
  private int doneRows;

  Job(long id, ExplainOrder order, ModelPackage model, ExplanationMethod.Prepared method,
      EventSink sink) {
    this(id, order, model, method, sink, DecodeBudget.unlimited());
  }

  /** A job whose method decodes the images among its parameters within {@code decodeBudget}. */
  Job(long id, ExplainOrder order, ModelPackage model, ExplanationMethod.Prepared method,
      EventSink sink, DecodeBudget decodeBudget) {
    this.decodeBudget = decodeBudget;
    this.id = id;
    this.order = order;
    this.model = model;
    this.method = method;
    this.sink = sink;
  }

  long id() {
    return id;
  }

  String modelName() {
    return model.name();
  }

  EventSink sink() {
    return sink;
  }

  int passes() {
    return passes;
  }

  String requestId() {
    return order.requestId();
  }

  /** Who asked (see {@link ExplainOrder#client()}). */
  String client() {
    return order.client();
  }

  /** The request's own priority level (see {@link ExplainOrder#priority()}). */
  int priority() {
    return order.priority();
  }

  /** Whether the request is a frame of a live-video stream. */
  boolean liveFrame() {
    return order.liveFrame();
  }

  /**
   * The rows of the next pass that have not run yet: all of it, unless earlier engine calls ran
   * its first rows as slices ({@link #onSliceResult}). Null when the job has finished.
   */
  Pass pendingRows() {
    Pass next = nextPass();
    return next == null || doneRows == 0 ? next : next.slice(doneRows, next.size());
  }

  /**
   * Consumes the result of the first rows of {@link #pendingRows()}: when they complete the
   * pass, the pass's events (as {@link #onPassResult}), else null (the job waits for its next
   * slice).
   */
  List<ExplainEvent> onSliceResult(PassResult rows) {
    int total = nextPass().size();
    if (doneRows == 0 && rows.logits().size() == total) {
      return onPassResult(rows);
    }
    doneSlices.add(rows);
    doneRows += rows.logits().size();
    if (doneRows < total) {
      return null;
    }
    PassResult whole = PassResult.concat(doneSlices);
    doneSlices.clear();
    doneRows = 0;
    return onPassResult(whole);
  }

  /** Whether the client's deadline has passed. */
  boolean pastDeadline(long nowNanos) {
    return order.pastDeadline(nowNanos);
  }

  /**
   * The next pass, or null when the job has sent its last event. A deterministic order's passes
   * run alone (see {@link Pass#runAlone()}).
   */
  Pass nextPass() {
    if (finished) {
      return null;
    }
    Pass pass = run == null ? firstPass() : run.nextPass();
    return pass != null && order.deterministic() ? pass.runAlone() : pass;
  }

  /**
   * The prediction and the input gradient of the target's logit, in one pass: the target may be
   * a rank, resolved by the engine from the same pass's logits.
   */
  private Pass firstPass() {
    List<float[]> image = List.of(order.image());
    if (order.classifyOnly()) {
      return Pass.forward(image);
    }
    int rank = order.target().rank();
    return rank > 0 ? Pass.gradientOfRanked(image, Pass.Output.LOGIT, new int[] {rank})
        : Pass.gradient(image, Pass.Output.LOGIT,
            new int[] {order.target().resolve(model, null)}, model.numClasses());
  }

  /** Whether the job has no more passes to run. */
  boolean isFinished() {
    return finished;
  }

  /** Consumes the result of {@link #nextPass()}; returns the events to send, in order. */
  List<ExplainEvent> onPassResult(PassResult result) {
    passes += result.logits().size();
    if (run == null) {
      // The first pass: started() also starts the method run (unless classify-only).
      List<ExplainEvent> out = new ArrayList<>();
      out.add(started(result.logits().get(0),
          result.gradients() == null ? null : result.gradients().get(0)));
      if (!order.classifyOnly()) {
        out.addAll(thin(run.initialEvents()));
      }
      return out;
    }
    return thin(run.onPassResult(result));
  }

  /** Drops frames off the client's stride (keeping the last), finishes the result. */
  private List<ExplainEvent> thin(List<ExplainEvent> events) {
    List<ExplainEvent> out = new ArrayList<>(events.size());
    boolean endsWithResult = !events.isEmpty() && events.get(events.size() - 1)
        instanceof ExplainEvent.Result;
    for (int i = 0; i < events.size(); i++) {
      ExplainEvent e = events.get(i);
      if (e instanceof ExplainEvent.Frame f) {
        boolean lastFrame = endsWithResult && i == events.size() - 2;
        if (f.step() % order.frameStride() == 0 || lastFrame) {
          out.add(f);
        }
      } else if (e instanceof ExplainEvent.Result r) {
        finished = true;
        out.add(finish(r));
      } else {
        out.add(e);
      }
    }
    if (!finished && run.nextPass() == null) {
      throw new IllegalStateException(
          "method " + order.method() + " stopped without a result event");
    }
    return out;
  }

  private ExplainEvent started(float[] logits, float[] logitGradient) {
    int target = order.target().resolve(model, logits);
    targetClass = target;
    MethodContext context = new MethodContext(model, order.image(), target, logits, logitGradient,
        new MethodContext.FrameOptions(order.topK(), order.frameTensors()), decodeBudget);
    List<ExplainEvent.ClassScore> top = context.top(logits);
    targetScore = context.score(logits, target);
    ExplainEvent.ClassScore predicted = MethodContext.topClasses(model, logits, 1).get(0);
    if (order.classifyOnly()) {
      finished = true;
    } else {
      run = method.start(context);
    }
    return new ExplainEvent.Started(order.requestId(), model.name(),
        order.classifyOnly() ? "" : order.method(), predicted, top, targetScore,
        order.classifyOnly() ? Map.of() : method.parameters(), model.input().shape());
  }

  private ExplainEvent.Result finish(ExplainEvent.Result r) {
    ExplainEvent.Result result = new ExplainEvent.Result(r.maps(), r.values(), r.curves(),
        r.snapshots(), r.steps(), passes, (System.nanoTime() - startNanos) / 1_000_000,
        new ExplainEvent.Provenance(model.name(), ModelContentHash.of(model), order.method(),
            method.parameters(), targetClass, ServerVersion.get(), order.deterministic()));
    if (!order.renderPng()) {
      return result;
    }
    List<SaliencyMap> rendered = new ArrayList<>();
    for (SaliencyMap map : result.maps()) {
      rendered.add(new SaliencyMap(map.name(), map.tensor(), map.colourScale(), overlay(map),
          figure(map)));
    }
    return result.withMaps(rendered);
  }

  private byte[] figure(SaliencyMap map) {
    FigureRenderer.Title title = targetScore == null
        ? new FigureRenderer.Title(order.method(), map.name(), null, Double.NaN)
        : new FigureRenderer.Title(order.method(), map.name(), targetScore.label(),
            targetScore.probability());
    return FigureRenderer.figurePng(order.image(), model.input(), map.tensor(),
        map.colourScale(), title);
  }

  private byte[] overlay(SaliencyMap map) {
    return OverlayRenderer.overlayPng(order.image(), model.input(), map.tensor(),
        map.colourScale());
  }
}
