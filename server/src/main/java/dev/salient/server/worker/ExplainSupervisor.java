package dev.salient.server.worker;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Admits explanation requests and places them on device workers: it validates what needs no
 * model work (method, parameters, target), refuses work beyond {@code maxInFlight} with
 * RESOURCE_EXHAUSTED, and gives each job to the least-loaded worker. A live-video frame comes
 * here as an order of its own and is admitted like any other request.
 */
public final class ExplainSupervisor extends AbstractBehavior<ExplainSupervisor.Command> {

  /** Messages of the supervisor. */
  public sealed interface Command {}

  /** Explain (or classify) {@code order}, streaming its events into {@code sink}. */
  public record Submit(ExplainOrder order, EventSink sink) implements Command {}

  /** A worker's job has ended (finished, failed or cancelled). */
  public record JobEnded(ActorRef<DeviceWorker.Command> worker, long jobId,
      SchedulerMetrics.Outcome outcome) implements Command {}

  private final ModelCatalog catalog;
  private final MethodRegistry methods;
  private final List<ActorRef<DeviceWorker.Command>> workers;
  private final Map<ActorRef<DeviceWorker.Command>, Integer> load = new HashMap<>();
  private final int maxInFlight;
  private final SchedulerMetrics metrics;
  private long nextJobId = 1;
  private int inFlight;

  private ExplainSupervisor(ActorContext<Command> context, ModelCatalog catalog,
      MethodRegistry methods, List<ActorRef<DeviceWorker.Command>> workers, int maxInFlight,
      SchedulerMetrics metrics) {
    super(context);
    this.metrics = metrics;
    this.catalog = catalog;
    this.methods = methods;
    this.workers = List.copyOf(workers);
    this.maxInFlight = maxInFlight;
    workers.forEach(w -> load.put(w, 0));
  }

  /**
   * A supervisor of the workers spawned from {@code runtimes}, one per runtime, admitting at most
   * {@code maxInFlight} requests at once.
   */
  public static Behavior<Command> create(ModelCatalog catalog, MethodRegistry methods,
      List<DeviceWorker.DeviceRuntime> runtimes, WorkerSettings workerSettings, int maxInFlight,
      SchedulerMetrics metrics) {
    return Behaviors.setup(ctx -> {
      List<ActorRef<DeviceWorker.Command>> workers = new ArrayList<>();
      for (DeviceWorker.DeviceRuntime rt : runtimes) {
        workers.add(ctx.spawn(DeviceWorker.create(rt, workerSettings, metrics),
            "worker-" + rt.name()));
      }
      return new ExplainSupervisor(ctx, catalog, methods, workers, maxInFlight, metrics);
    });
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(JobEnded.class, this::onJobEnded)
        .build();
  }

  private Behavior<Command> onSubmit(Submit submit) {
    ExplainOrder order = submit.order();
    Job job;
    try {
      ModelPackage model = catalog.require(order.model());
      ExplanationMethod.Prepared prepared = null;
      if (!order.classifyOnly()) {
        prepared = methods.lookup(order.method(), model).prepare(order.parameters());
      }
      order.target().validate(model);
      if (inFlight >= maxInFlight) {
        metrics.rejected();
        throw new SalientException.CapacityExceeded("the server is busy: " + inFlight
            + " requests in flight (limit " + maxInFlight + "); retry with backoff, or raise "
            + "salient.scheduler.max-in-flight");
      }
      job = new Job(nextJobId++, order, model, prepared, submit.sink());
    } catch (SalientException e) {
      getContext().getLog().debug("request {} refused: {}", order.requestId(), e.getMessage());
      submit.sink().fail(e);
      return this;
    }
    ActorRef<DeviceWorker.Command> worker =
        workers.stream().min(Comparator.comparingInt(load::get)).orElseThrow();
    load.merge(worker, 1, Integer::sum);
    inFlight++;
    metrics.admitted();
    worker.tell(new DeviceWorker.StartJob(job, getContext().getSelf()));
    return this;
  }

  private Behavior<Command> onJobEnded(JobEnded ended) {
    load.merge(ended.worker(), -1, Integer::sum);
    inFlight--;
    metrics.ended(ended.outcome());
    return this;
  }
}
