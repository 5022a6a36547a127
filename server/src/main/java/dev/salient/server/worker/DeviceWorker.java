package dev.salient.server.worker;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.util.CpuAffinity;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.SchedulerMetrics.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.PreRestart;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the jobs of one device, continuously batched. It owns the device's engine and the one
 * thread that calls it. Each round it takes the next passes of ready jobs of one model, chosen
 * and ordered by its {@link FairQueue} (fair between models and clients, by priority), passes
 * that {@linkplain Pass#canShareCallWith can share a call}, up to {@code maxBatch} images and
 * as many as fit in {@code max-call-time} at the model's recent time per image (a longer pass
 * runs in slices), runs them as one engine call, and hands every job its own rows of the
 * result. A job is ready again
 * once its events are in its response stream's buffer (at once, while the buffer has room), so a
 * slow client holds back only its own job; a round waits at most {@code maxWait} for jobs whose
 * clients are making room, so that iterative jobs keep stepping together. When fewer jobs are
 * ready than the last engine call carried plus those that waited through it, a round also waits
 * for clients coming back with their next request, until a fraction of that call's recent time
 * (at most {@code maxReturnWait}) has passed since the call ended.
 *
 * <p>A failed engine call fails the jobs in that call with UNAVAILABLE; the worker then reloads
 * its engine with exponential backoff while the other jobs wait, and goes on.
 */
public final class DeviceWorker extends AbstractBehavior<DeviceWorker.Command> {
  private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);
  /** Weight of the newest engine call in the moving average of call times. */
  private static final double CALL_TIME_WEIGHT = 0.25;
  /** How long after its last job ends a model still counts as sharing the worker. */
  static final java.time.Duration SHARING_MEMORY = java.time.Duration.ofSeconds(1);

  /** Messages of the worker. */
  public sealed interface Command {}

  /** Starts a job; the worker tells {@code onEnd} when it has ended, however it ended. */
  public record StartJob(Job job, ActorRef<ExplainSupervisor.Command> onEnd) implements Command {}

  /** Ends every job of this worker with {@code reason}, wherever it stands. */
  public record EndAllJobs(SalientException reason) implements Command {}

  /**
   * The outcome of one engine call: {@code rows[i]} result rows belong to {@code
   * round.jobs()[i]}.
   */
  private record RoundDone(FairQueue.Round round, int[] rows, long nanos, PassResult result,
      Throwable error) implements Command {
    List<Job> batch() {
      return round.jobs();
    }
  }

  private record JobReady(long jobId) implements Command {}

  private record StreamClosed(long jobId) implements Command {}

  private record EventsFailed(long jobId, Throwable error) implements Command {}

  /** A job's events from a layer walk, made on the walk thread; null events: none this time. */
  private record WalkEventsMade(long jobId, List<ExplainEvent> events, Throwable error)
      implements Command {}

  private enum BatchWindowClosed implements Command { INSTANCE }

  private enum ReturnsOverdue implements Command { INSTANCE }

  private enum ReloadEngine implements Command { INSTANCE }

  private record EngineReloaded(PassEngine engine, Throwable error) implements Command {}

  /** A device's engine factory, its first engine, and the engine's thread. */
  public record DeviceRuntime(String name, String device, Supplier<PassEngine> factory,
      PassEngine engine, ExecutorService thread) {}

  private final String name;
  private final String device;
  private final Supplier<PassEngine> engineFactory;
  private final ExecutorService engineThread;
  /**
   * Where the white-box methods walk their layer walks backwards: a ResNet-18 sweep takes this
   * thread 0.2-1 s of Java arithmetic, which on the actor would hold back every other job's next
   * round on this worker.
   */
  private final ExecutorService walkThread;
  private final WorkerSettings settings;
  private final SchedulerMetrics.WorkerMeters meters;
  private final TimerScheduler<Command> timers;
  private final Map<Long, Job> jobs = new HashMap<>();
  private final Map<Long, ActorRef<ExplainSupervisor.Command>> endListeners = new HashMap<>();
  private final FairQueue ready;
  /** Recent time per image of each model's engine calls, moving average. */
  private final Map<String, Double> nanosPerImage = new HashMap<>();
  /** Jobs on this worker by model, and when each model's last job ended. */
  private final Map<String, Integer> jobsByModel = new HashMap<>();
  private final Map<String, Long> lastJobEnded = new HashMap<>();
  private final Set<Long> delivering = new HashSet<>();
  private PassEngine engine;
  private boolean engineBusy;
  private boolean batchWindowExpired;
  /**
   * Jobs of the last engine call plus those that waited through it, while their clients may
   * still be coming back (until {@link ReturnsOverdue}); 0 when no round waits for returns.
   */
  private int expectedJobs;
  private int lastCallImages;
  /** The model of the last engine call, whose clients a round may wait for. */
  private String lastCallModel = "";
  /** Recent engine call time by images in the call (capped at maxBatch), moving average. */
  private final double[] callNanos;
  private Duration backoff;

  private DeviceWorker(ActorContext<Command> context, TimerScheduler<Command> timers,
      DeviceRuntime runtime, WorkerSettings settings, SchedulerMetrics.WorkerMeters meters) {
    super(context);
    this.timers = timers;
    this.name = runtime.name();
    this.device = runtime.device();
    this.engineFactory = runtime.factory();
    this.engine = runtime.engine();
    this.engineThread = runtime.thread();
    this.walkThread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "salient-walk-" + runtime.name());
      t.setDaemon(true);
      return t;
    });
    this.settings = settings;
    this.meters = meters;
    this.backoff = settings.restartMinBackoff();
    this.callNanos = new double[settings.maxBatch() + 1];
    this.ready = new FairQueue(settings.sharing());
  }

  /**
   * A worker for {@code runtime}, whose engine is used on {@code runtime.thread()} only. If the
   * actor itself fails, it restarts with the same engine and fails the jobs it had.
   */
  public static Behavior<Command> create(DeviceRuntime runtime, WorkerSettings settings,
      SchedulerMetrics metrics) {
    SchedulerMetrics.WorkerMeters meters =
        metrics.worker(runtime.name(), runtime.device(), settings.maxBatch());
    return Behaviors.supervise(Behaviors.<Command>setup(ctx -> Behaviors.withTimers(
            timers -> new DeviceWorker(ctx, timers, runtime, settings, meters))))
        .onFailure(SupervisorStrategy.restart());
  }

  /**
   * Loads the models for {@code device} on a new, named engine thread (blocking: a model that
   * cannot load fails here, at start-up); a CPU engine may use every core.
   */
  public static DeviceRuntime loadRuntime(String name, String device,
      Collection<ModelPackage> packages) {
    return loadRuntime(name, device, packages, Runtime.getRuntime().availableProcessors());
  }

  /**
   * As {@link #loadRuntime(String, String, Collection)}, with a CPU engine's intra-op threads
   * limited to {@code cpuThreads}, this worker's share of the cores.
   */
  public static DeviceRuntime loadRuntime(String name, String device,
      Collection<ModelPackage> packages, int cpuThreads) {
    return loadRuntime(name, device, packages, cpuThreads, List.of());
  }

  /**
   * As {@link #loadRuntime(String, String, Collection, int)}, with the engine thread (and the
   * OpenMP threads it starts) pinned to {@code cores} unless that is empty.
   */
  public static DeviceRuntime loadRuntime(String name, String device,
      Collection<ModelPackage> packages, int cpuThreads, List<Integer> cores) {
    return loadRuntime(name, device, packages, cpuThreads, cores, 0);
  }

  /**
   * As {@link #loadRuntime(String, String, Collection, int, List)}; when {@code measureUpTo} is
   * positive, the engine measures each model's best batch up to that size after loading (see
   * {@link InferenceEngine#measureBestBatch}), and so does every reload.
   */
  public static DeviceRuntime loadRuntime(String name, String device,
      Collection<ModelPackage> packages, int cpuThreads, List<Integer> cores, int measureUpTo) {
    ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(() -> {
        pin(cores);
        r.run();
      }, "salient-engine-" + name);
      t.setDaemon(true);
      return t;
    });
    Supplier<PassEngine> factory = () -> {
      InferenceEngine engine = InferenceEngine.load(device, packages, cpuThreads);
      if (measureUpTo > 0) {
        try {
          engine.measureBestBatch(measureUpTo);
        } catch (RuntimeException e) {
          engine.close();
          throw e;
        }
      }
      return engine;
    };
    try {
      PassEngine engine = CompletableFuture.supplyAsync(factory, thread).join();
      return new DeviceRuntime(name, device, factory, engine, thread);
    } catch (RuntimeException e) {
      thread.shutdownNow();
      throw e;
    }
  }

  private static void pin(List<Integer> cores) {
    if (cores.isEmpty()) {
      return;
    }
    try {
      CpuAffinity.pinCurrentThread(cores);
    } catch (RuntimeException e) {
      log.warn("engine thread {} runs on any core: pinning it to cores {} failed ({})",
          Thread.currentThread().getName(), cores, e.toString());
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(StartJob.class, this::onStartJob)
        .onMessage(EndAllJobs.class, this::onEndAllJobs)
        .onMessage(RoundDone.class, this::onRoundDone)
        .onMessage(JobReady.class, this::onJobReady)
        .onMessage(StreamClosed.class, this::onStreamClosed)
        .onMessage(EventsFailed.class, this::onEventsFailed)
        .onMessage(WalkEventsMade.class, this::onWalkEventsMade)
        .onMessageEquals(BatchWindowClosed.INSTANCE, this::onBatchWindowClosed)
        .onMessageEquals(ReturnsOverdue.INSTANCE, this::onReturnsOverdue)
        .onMessageEquals(ReloadEngine.INSTANCE, this::onReloadEngine)
        .onMessage(EngineReloaded.class, this::onEngineReloaded)
        .onSignal(PreRestart.class, signal -> onPreRestart())
        .onSignal(PostStop.class, signal -> onPostStop())
        .build();
  }

  private Behavior<Command> onStartJob(StartJob start) {
    Job job = start.job();
    jobs.put(job.id(), job);
    jobsByModel.merge(job.modelName(), 1, Integer::sum);
    endListeners.put(job.id(), start.onEnd());
    meters.activeJobs.set(jobs.size());
    getContext().pipeToSelf(job.sink().whenClosed(), (ok, err) -> new StreamClosed(job.id()));
    markReady(job);
    runRound();
    return this;
  }

  private void markReady(Job job) {
    ready.add(job, System.nanoTime());
    meters.queueDepth.set(ready.size());
  }

  private void runRound() {
    if (engineBusy || engine == null) {
      return;
    }
    dropExpired();
    if (ready.isEmpty()) {
      return;
    }
    if (ready.size() < settings.maxBatch()) {
      int sameModel = ready.size(lastCallModel);
      if (sameModel < expectedJobs && sameModel == ready.size()) {
        // The last call's clients may be on their way back: the last of them, or
        // ReturnsOverdue, starts the round. Another model's ready passes go at once: its call
        // is no reason for the returning clients to miss theirs.
        return;
      }
      if (!delivering.isEmpty() && !batchWindowExpired && !settings.maxWait().isZero()) {
        // Jobs of the last round still handing events to their clients: iterative jobs, back
        // in a moment, so they keep stepping in one batch.
        if (!timers.isTimerActive(BatchWindowClosed.INSTANCE)) {
          timers.startSingleTimer(BatchWindowClosed.INSTANCE, settings.maxWait());
        }
        return;
      }
    }
    timers.cancel(BatchWindowClosed.INSTANCE);
    batchWindowExpired = false;
    timers.cancel(ReturnsOverdue.INSTANCE);
    expectedJobs = 0;
    FairQueue.Round round = ready.next(this::rowLimit, System.nanoTime());
    meters.queueDepth.set(ready.size());
    SchedulerMetrics.ModelMeters modelMeters = meters.model(round.model());
    for (long waited : round.waitedNanos()) {
      modelMeters.queueWait(waited);
    }
    Pass combined = Pass.concat(round.passes());
    String model = round.model();
    PassEngine current = engine;
    engineBusy = true;
    long start = System.nanoTime();
    CompletionStage<PassResult> call =
        CompletableFuture.supplyAsync(() -> current.run(model, combined), engineThread);
    int[] rowCounts = round.passes().stream().mapToInt(Pass::size).toArray();
    getContext().pipeToSelf(call, (result, error) ->
        new RoundDone(round, rowCounts, System.nanoTime() - start, result, error));
  }

  /**
   * The most images one call on {@code model} may carry: {@code maxBatch}, the engine's best
   * batch and, while another model shares the worker, as many as fit in {@code max-call-time}
   * at the model's recent time per image (one image until a call has been timed).
   */
  private int rowLimit(String model) {
    int limit = Math.min(settings.maxBatch(), engine.bestBatch(model));
    java.time.Duration bound = settings.sharing().maxCallTime();
    if (bound.isZero() || !othersShare(model)) {
      return limit;
    }
    Double perImage = nanosPerImage.get(model);
    if (perImage == null) {
      return 1;
    }
    return (int) Math.max(1, Math.min(limit, bound.toNanos() / perImage));
  }

  /**
   * Whether a model other than {@code model} has a job on this worker, or had one within {@link
   * #SHARING_MEMORY}: a model alone keeps the throughput of its best batch.
   */
  private boolean othersShare(String model) {
    for (Map.Entry<String, Integer> e : jobsByModel.entrySet()) {
      if (!e.getKey().equals(model) && e.getValue() > 0) {
        return true;
      }
    }
    long now = System.nanoTime();
    for (Map.Entry<String, Long> e : lastJobEnded.entrySet()) {
      if (!e.getKey().equals(model) && now - e.getValue() < SHARING_MEMORY.toNanos()) {
        return true;
      }
    }
    return false;
  }

  /**
   * After an engine call of {@code expected} jobs (with those that waited through it): until a
   * fraction of the recent time of a call of that size has passed, rounds wait for the call's
   * clients to come back (closed-loop clients send their next request a moment after their
   * answer; starting without them would leave them a whole call behind), unless that many jobs
   * are ready. Timed from the call's end, so a request that arrives later never waits. Armed
   * before the call's jobs hear of their results, so the wait has begun by the time they end.
   */
  private void awaitReturns(int expected) {
    Duration wait = Duration.ofNanos(
        (long) (settings.returnWaitFraction() * callNanos[lastCallImages]));
    if (wait.compareTo(settings.maxReturnWait()) > 0) {
      wait = settings.maxReturnWait();
    }
    if (wait.isZero()) {
      expectedJobs = 0;
      return;
    }
    expectedJobs = expected;
    timers.startSingleTimer(ReturnsOverdue.INSTANCE, wait);
  }

  private Behavior<Command> onReturnsOverdue() {
    expectedJobs = 0;
    runRound();
    return this;
  }

  private Behavior<Command> onBatchWindowClosed() {
    batchWindowExpired = true;
    runRound();
    return this;
  }

  /** Jobs whose deadline passed leave before their next pass. */
  private void dropExpired() {
    long now = System.nanoTime();
    for (Job job : ready.jobs()) {
      if (job.pastDeadline(now)) {
        getContext().getLog().debug("request {} passed its deadline; stopping it", job.requestId());
        endJob(job, Outcome.DEADLINE_EXCEEDED, new SalientException.DeadlineExceeded(
            "the request's deadline passed after " + job.passes()
                + " model passes; allow more time or ask for fewer steps"));
      }
    }
  }

  private Behavior<Command> onRoundDone(RoundDone done) {
    engineBusy = false;
    int images = java.util.Arrays.stream(done.rows()).sum();
    meters.engineCall(images, done.nanos());
    meters.model(done.round().model()).engineCall(images, done.nanos());
    ready.charge(done.round(), done.rows(), done.nanos());
    lastCallModel = done.round().model();
    int expected = done.batch().size() + ready.size(lastCallModel);
    lastCallImages = Math.min(images, settings.maxBatch());
    if (done.error() != null) {
      getContext().getLog().error("engine call on {} ({} images) failed; failing its {} "
          + "requests and reloading the engine", name, images, done.batch().size(), done.error());
      for (Job job : done.batch()) {
        if (jobs.containsKey(job.id())) {
          endJob(job, Outcome.FAILED, new SalientException.Unavailable("the model engine on "
              + device + " failed: " + rootMessage(done.error()) + "; retry the request",
              done.error()));
        }
      }
      restartEngine();
      return this;
    }
    backoff = settings.restartMinBackoff();
    nanosPerImage.merge(done.round().model(), (double) done.nanos() / images,
        (old, sample) -> old + CALL_TIME_WEIGHT * (sample - old));
    double previous = callNanos[lastCallImages];
    callNanos[lastCallImages] =
        previous == 0 ? done.nanos() : previous + CALL_TIME_WEIGHT * (done.nanos() - previous);
    awaitReturns(expected);
    int row = 0;
    for (int i = 0; i < done.batch().size(); i++) {
      Job job = done.batch().get(i);
      int n = done.rows()[i];
      if (jobs.containsKey(job.id())) {
        deliver(job, done.result().slice(row, row + n));
      }
      row += n;
    }
    if (ready.size(lastCallModel) >= expectedJobs) {
      // Every job of the call is back already (iterative jobs, at once): nothing to wait for.
      expectedJobs = 0;
      timers.cancel(ReturnsOverdue.INSTANCE);
    }
    runRound();
    return this;
  }

  private void restartEngine() {
    meters.restarted();
    PassEngine failed = engine;
    engine = null;
    engineThread.execute(failed::close);
    scheduleReload();
  }

  /** Reloads after the current backoff, and doubles it (up to the maximum). */
  private void scheduleReload() {
    timers.startSingleTimer(ReloadEngine.INSTANCE, backoff);
    Duration doubled = backoff.multipliedBy(2);
    backoff = doubled.compareTo(settings.restartMaxBackoff()) > 0
        ? settings.restartMaxBackoff() : doubled;
  }

  private Behavior<Command> onReloadEngine() {
    getContext().pipeToSelf(CompletableFuture.supplyAsync(engineFactory, engineThread),
        EngineReloaded::new);
    return this;
  }

  private Behavior<Command> onEngineReloaded(EngineReloaded reloaded) {
    if (reloaded.error() != null) {
      getContext().getLog().error("reloading the engine on {} failed; retrying in {} ms", name,
          backoff.toMillis(), reloaded.error());
      for (Job job : ready.jobs()) {
        endJob(job, Outcome.FAILED, new SalientException.Unavailable("the model engine on "
            + device + " is down and restarting: " + rootMessage(reloaded.error())
            + "; retry the request", reloaded.error()));
      }
      scheduleReload();
      return this;
    }
    getContext().getLog().info("engine on {} reloaded", name);
    engine = reloaded.engine();
    runRound();
    return this;
  }

  private void deliver(Job job, PassResult result) {
    if (result.walks() != null) {
      // Out of the job's round until its events are made: no other thread touches its state.
      getContext().pipeToSelf(
          CompletableFuture.supplyAsync(() -> job.onSliceResult(result), walkThread),
          (events, error) -> new WalkEventsMade(job.id(), events, error));
      return;
    }
    List<ExplainEvent> events;
    try {
      events = job.onSliceResult(result);
    } catch (RuntimeException e) {
      failInMethod(job, e);
      return;
    }
    offer(job, events);
  }

  private Behavior<Command> onWalkEventsMade(WalkEventsMade made) {
    Job job = jobs.get(made.jobId());
    if (job == null) {
      // Ended while its walk was being made (cancelled, deadline, the worker failing its jobs).
      return this;
    }
    if (made.error() != null) {
      Throwable cause = made.error() instanceof CompletionException && made.error().getCause()
          != null ? made.error().getCause() : made.error();
      failInMethod(job, cause instanceof RuntimeException e ? e
          : new IllegalStateException(cause.getMessage(), cause));
    } else {
      offer(job, made.events());
    }
    runRound();
    return this;
  }

  private void failInMethod(Job job, RuntimeException e) {
    if (e instanceof SalientException) {
      endJob(job, Outcome.FAILED, e);
      return;
    }
    getContext().getLog().error("request {} failed in its method", job.requestId(), e);
    endJob(job, Outcome.FAILED,
        new IllegalStateException("internal error in the method: " + e.getMessage(), e));
  }

  /** Hands {@code events} to the job's stream; null: the job waits for its next slice. */
  private void offer(Job job, List<ExplainEvent> events) {
    if (events == null) {
      // The first rows of a pass too long for one call: the job waits for its next slice.
      markReady(job);
      return;
    }
    CompletionStage<Boolean> sent = CompletableFuture.completedFuture(true);
    for (ExplainEvent event : events) {
      sent = sent.thenCompose(ok -> ok ? job.sink().offer(event)
          : CompletableFuture.completedFuture(false));
    }
    CompletableFuture<Boolean> accepted = sent.toCompletableFuture();
    if (accepted.isDone() && !accepted.isCompletedExceptionally()) {
      // The stream had room for every event: the job is ready now, without a message.
      afterDelivery(job, accepted.join());
      return;
    }
    delivering.add(job.id());
    getContext().pipeToSelf(sent, (ok, error) -> error != null ? new EventsFailed(job.id(), error)
        : Boolean.TRUE.equals(ok) ? new JobReady(job.id()) : new StreamClosed(job.id()));
  }

  /** The job's events are in its stream ({@code accepted}), or its stream had closed. */
  private void afterDelivery(Job job, boolean accepted) {
    if (!accepted) {
      getContext().getLog().debug("request {} cancelled by its client after {} passes; freeing it",
          job.requestId(), job.passes());
      endJob(job, Outcome.CANCELLED, null);
    } else if (job.isFinished()) {
      endJob(job, Outcome.COMPLETED, null);
    } else {
      markReady(job);
    }
  }

  private Behavior<Command> onJobReady(JobReady msg) {
    delivering.remove(msg.jobId());
    Job job = jobs.get(msg.jobId());
    if (job != null) {
      afterDelivery(job, true);
    }
    runRound();
    return this;
  }

  private Behavior<Command> onStreamClosed(StreamClosed msg) {
    delivering.remove(msg.jobId());
    Job job = jobs.get(msg.jobId());
    if (job != null) {
      afterDelivery(job, false);
    }
    runRound();
    return this;
  }

  private Behavior<Command> onEventsFailed(EventsFailed msg) {
    delivering.remove(msg.jobId());
    Job job = jobs.get(msg.jobId());
    if (job != null) {
      endJob(job, Outcome.FAILED, msg.error());
    }
    return this;
  }

  private void endJob(Job job, Outcome outcome, Throwable error) {
    if (jobs.remove(job.id()) != null) {
      jobsByModel.merge(job.modelName(), -1, Integer::sum);
      lastJobEnded.put(job.modelName(), System.nanoTime());
    }
    ready.remove(job);
    delivering.remove(job.id());
    meters.activeJobs.set(jobs.size());
    meters.queueDepth.set(ready.size());
    // The supervisor hears of the end before the client does, so a client that sends its next
    // request as soon as this one ends finds the place already free.
    ActorRef<ExplainSupervisor.Command> listener = endListeners.remove(job.id());
    if (listener != null) {
      listener.tell(new ExplainSupervisor.JobEnded(getContext().getSelf(), job.id(), outcome));
    }
    if (error != null) {
      job.sink().fail(error);
    } else if (outcome == Outcome.COMPLETED) {
      job.sink().complete();
    }
  }

  private Behavior<Command> onEndAllJobs(EndAllJobs end) {
    endAll(end.reason());
    return this;
  }

  private void failAll(String why) {
    endAll(new SalientException.Unavailable(why));
  }

  private void endAll(SalientException reason) {
    for (Job job : new ArrayList<>(jobs.values())) {
      endJob(job, Outcome.FAILED, reason);
    }
  }

  private Behavior<Command> onPreRestart() {
    failAll("the worker on " + device + " failed and restarted; retry the request");
    walkThread.shutdownNow();
    return this;
  }

  private Behavior<Command> onPostStop() {
    failAll("the server is stopping; retry the request elsewhere");
    walkThread.shutdownNow();
    if (engine != null) {
      engineThread.execute(engine::close);
    }
    engineThread.shutdown();
    return this;
  }

  private static String rootMessage(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root.getClass().getSimpleName() + ": " + root.getMessage();
  }
}
