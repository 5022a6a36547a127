package dev.salient.server.worker;

import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * Admits explanation requests and places them on device workers: it validates what needs no
 * model work (method, parameters, target), refuses work beyond {@code maxInFlight}, or beyond
 * {@code maxInFlightPerClient} of one client (so that one client cannot take every place), with
 * RESOURCE_EXHAUSTED, and gives each job to the least-loaded worker. A live-video frame comes
 * here as an order of its own and is admitted like any other request.
 *
 * <p>When the server stops it drains: new requests are refused with UNAVAILABLE at once, running
 * ones (and further frames of running video streams) go on for the drain period, and those still
 * running at its end are ended with UNAVAILABLE, so every client gets a status.
 */
public final class ExplainSupervisor extends AbstractBehavior<ExplainSupervisor.Command> {

  /** Messages of the supervisor. */
  public sealed interface Command {}

  /**
   * Explain (or classify) {@code order}, streaming its events into {@code sink}. An order that
   * {@code continuesStream} (the next frame of a video stream already running) is admitted
   * while the server drains. Orders of the same {@code affinity} (a video stream's frames; null:
   * none) go to the same worker node of a cluster while it lives.
   */
  public record Submit(ExplainOrder order, EventSink sink, boolean continuesStream,
      String affinity) implements Command {
    /** The order of a new request. */
    public Submit(ExplainOrder order, EventSink sink) {
      this(order, sink, false, null);
    }

    /** An order with no affinity to the orders before it. */
    public Submit(ExplainOrder order, EventSink sink, boolean continuesStream) {
      this(order, sink, continuesStream, null);
    }
  }

  /**
   * Refuse new requests from now on; end those still running after {@code period}. Replies
   * when no request is running (at once if none is); asking again only adds a reply.
   */
  public record Drain(Duration period, ActorRef<Done> replyTo) implements Command {}

  private enum DrainPeriodOver implements Command { INSTANCE }

  /** A worker's job has ended (finished, failed or cancelled). */
  public record JobEnded(ActorRef<DeviceWorker.Command> worker, long jobId,
      SchedulerMetrics.Outcome outcome) implements Command {}

  private final ModelCatalog catalog;
  private final MethodRegistry methods;
  private final List<ActorRef<DeviceWorker.Command>> workers;
  /** The workers of each model placed on some (salient.sharing.models.M.workers). */
  private final Map<String, List<ActorRef<DeviceWorker.Command>>> placement;
  private final Map<ActorRef<DeviceWorker.Command>, Integer> load = new HashMap<>();
  private final int maxInFlight;
  private final int maxInFlightPerClient;
  /** Requests in flight per client (see {@link ExplainOrder#client()}); no zero entries. */
  private final Map<String, Integer> inFlightByClient = new HashMap<>();
  /** The client of each job in flight, to count it down when the job ends. */
  private final Map<Long, String> clientOfJob = new HashMap<>();
  private final SchedulerMetrics metrics;
  private final DecodeBudget decodeBudget;
  private final TimerScheduler<Command> timers;
  private final List<ActorRef<Done>> drainWaiters = new ArrayList<>();
  private long nextJobId = 1;
  private int inFlight;
  private boolean draining;
  private boolean drainPeriodOver;

  private ExplainSupervisor(ActorContext<Command> context, TimerScheduler<Command> timers,
      ModelCatalog catalog, MethodRegistry methods, List<ActorRef<DeviceWorker.Command>> workers,
      Map<String, List<ActorRef<DeviceWorker.Command>>> placement, int maxInFlight,
      int maxInFlightPerClient, SchedulerMetrics metrics, DecodeBudget decodeBudget) {
    super(context);
    this.placement = Map.copyOf(placement);
    this.maxInFlightPerClient = maxInFlightPerClient;
    this.decodeBudget = decodeBudget;
    this.timers = timers;
    this.metrics = metrics;
    this.catalog = catalog;
    this.methods = methods;
    this.workers = List.copyOf(workers);
    this.maxInFlight = maxInFlight;
    workers.forEach(w -> load.put(w, 0));
  }

  /**
   * A supervisor of the workers spawned from {@code runtimes}, one per runtime, admitting at most
   * {@code maxInFlight} requests at once, with no bound per client below that.
   */
  public static Behavior<Command> create(ModelCatalog catalog, MethodRegistry methods,
      List<DeviceWorker.DeviceRuntime> runtimes, WorkerSettings workerSettings, int maxInFlight,
      SchedulerMetrics metrics) {
    return create(catalog, methods, runtimes, workerSettings, maxInFlight, maxInFlight, metrics,
        DecodeBudget.unlimited());
  }

  /**
   * A supervisor of the workers spawned from {@code runtimes}, one per runtime, admitting at most
   * {@code maxInFlight} requests at once and at most {@code maxInFlightPerClient} of one client.
   * Methods decode the images among their parameters (an Integrated Gradients baseline) within
   * {@code decodeBudget}. They decode on the workers' engine threads, which must not wait for
   * others' images: pass a budget {@link DecodeBudget#withoutWaiting() without waiting}.
   */
  public static Behavior<Command> create(ModelCatalog catalog, MethodRegistry methods,
      List<DeviceWorker.DeviceRuntime> runtimes, WorkerSettings workerSettings, int maxInFlight,
      int maxInFlightPerClient, SchedulerMetrics metrics, DecodeBudget decodeBudget) {
    List<String> names = runtimes.stream().map(DeviceWorker.DeviceRuntime::name).toList();
    workerSettings.sharing().models().forEach((model, share) -> {
      for (String worker : share.workers()) {
        if (!names.contains(worker)) {
          throw new IllegalArgumentException("salient.sharing.models." + model + ".workers names "
              + worker + ", which is not a worker of this server; its workers are " + names);
        }
      }
    });
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      Map<String, ActorRef<DeviceWorker.Command>> byName = new HashMap<>();
      List<ActorRef<DeviceWorker.Command>> workers = new ArrayList<>();
      for (DeviceWorker.DeviceRuntime rt : runtimes) {
        ActorRef<DeviceWorker.Command> worker =
            ctx.spawn(DeviceWorker.create(rt, workerSettings, metrics), "worker-" + rt.name());
        workers.add(worker);
        byName.put(rt.name(), worker);
      }
      Map<String, List<ActorRef<DeviceWorker.Command>>> placement = new HashMap<>();
      workerSettings.sharing().models().forEach((model, share) -> {
        if (!share.workers().isEmpty()) {
          placement.put(model, share.workers().stream().map(byName::get).toList());
        }
      });
      return new ExplainSupervisor(ctx, timers, catalog, methods, workers, placement,
          maxInFlight, maxInFlightPerClient, metrics, decodeBudget);
    }));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(JobEnded.class, this::onJobEnded)
        .onMessage(Drain.class, this::onDrain)
        .onMessageEquals(DrainPeriodOver.INSTANCE, this::onDrainPeriodOver)
        .build();
  }

  private Behavior<Command> onSubmit(Submit submit) {
    ExplainOrder order = submit.order();
    if (drainPeriodOver || (draining && !submit.continuesStream())) {
      submit.sink().fail(new SalientException.ShuttingDown(submit.continuesStream()
          ? SalientException.ShuttingDown.CUT_OFF : SalientException.ShuttingDown.REFUSED));
      return this;
    }
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
      int ofClient = inFlightByClient.getOrDefault(order.client(), 0);
      if (ofClient >= maxInFlightPerClient) {
        metrics.rejected();
        throw new SalientException.CapacityExceeded("client " + order.client() + " has "
            + ofClient + " requests in flight (limit " + maxInFlightPerClient + " per client); "
            + "wait for one to finish, or raise salient.scheduler.max-in-flight-per-client");
      }
      job = new Job(nextJobId++, order, model, prepared, submit.sink(), decodeBudget);
    } catch (SalientException e) {
      getContext().getLog().debug("request {} refused: {}", order.requestId(), e.getMessage());
      submit.sink().fail(e);
      return this;
    }
    ActorRef<DeviceWorker.Command> worker = placement.getOrDefault(job.modelName(), workers)
        .stream().min(Comparator.comparingInt(load::get)).orElseThrow();
    load.merge(worker, 1, Integer::sum);
    inFlight++;
    inFlightByClient.merge(order.client(), 1, Integer::sum);
    clientOfJob.put(job.id(), order.client());
    metrics.admitted();
    worker.tell(new DeviceWorker.StartJob(job, getContext().getSelf()));
    return this;
  }

  private Behavior<Command> onJobEnded(JobEnded ended) {
    load.merge(ended.worker(), -1, Integer::sum);
    inFlight--;
    String client = clientOfJob.remove(ended.jobId());
    if (client != null) {
      // A count that reaches zero is removed, so the map holds only clients with work.
      inFlightByClient.computeIfPresent(client, (c, n) -> n > 1 ? n - 1 : null);
    }
    metrics.ended(ended.outcome());
    replyIfDrained();
    return this;
  }

  private Behavior<Command> onDrain(Drain drain) {
    if (!draining) {
      draining = true;
      getContext().getLog().info("draining: refusing new requests; {} running get {} ms",
          inFlight, drain.period().toMillis());
      timers.startSingleTimer(DrainPeriodOver.INSTANCE, drain.period());
    }
    drainWaiters.add(drain.replyTo());
    replyIfDrained();
    return this;
  }

  private Behavior<Command> onDrainPeriodOver() {
    drainPeriodOver = true;
    if (inFlight > 0) {
      getContext().getLog().info("drain period over: ending the {} requests still running",
          inFlight);
      SalientException cutOff =
          new SalientException.ShuttingDown(SalientException.ShuttingDown.CUT_OFF);
      workers.forEach(w -> w.tell(new DeviceWorker.EndAllJobs(cutOff)));
    }
    return this;
  }

  private void replyIfDrained() {
    if (draining && inFlight == 0) {
      drainWaiters.forEach(w -> w.tell(Done.getInstance()));
      drainWaiters.clear();
    }
  }
}
