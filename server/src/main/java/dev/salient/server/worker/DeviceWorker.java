package dev.salient.server.worker;

import dev.salient.server.engine.InferenceEngine;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.method.ExplainEvent;
import dev.salient.server.util.SalientException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Runs the jobs of one device. It owns the device's {@link InferenceEngine} and the one thread
 * that calls it. Each round it takes the next pass of every ready job (same model, same kind of
 * pass, up to {@code maxBatch} images), runs them as one engine call, and hands every job its
 * own rows of the result. A job is ready again once its client has taken its events, so a slow
 * client holds back only its own job.
 */
public final class DeviceWorker extends AbstractBehavior<DeviceWorker.Command> {

  /** Messages of the worker. */
  public sealed interface Command {}

  /** Starts a job; the worker tells {@code onEnd} when it has ended, however it ended. */
  public record StartJob(Job job, ActorRef<ExplainSupervisor.Command> onEnd) implements Command {}

  /** The outcome of one engine call: {@code rows[i]} result rows belong to {@code batch[i]}. */
  private record RoundDone(List<Job> batch, int[] rows, PassResult result, Throwable error)
      implements Command {}

  private record JobReady(long jobId) implements Command {}

  private record StreamClosed(long jobId) implements Command {}

  private record EventsFailed(long jobId, Throwable error) implements Command {}

  private final String device;
  private final PassEngine engine;
  private final ExecutorService engineThread;
  private final int maxBatch;
  private final Map<Long, Job> jobs = new HashMap<>();
  private final Map<Long, ActorRef<ExplainSupervisor.Command>> endListeners = new HashMap<>();
  private final Deque<Job> ready = new ArrayDeque<>();
  private boolean engineBusy;

  private DeviceWorker(ActorContext<Command> context, String device, PassEngine engine,
      ExecutorService engineThread, int maxBatch) {
    super(context);
    this.device = device;
    this.engine = engine;
    this.engineThread = engineThread;
    this.maxBatch = maxBatch;
  }

  /**
   * A worker for {@code engine}, whose methods run on {@code engineThread} only (the thread that
   * loaded it). The worker shuts the thread down and closes the engine when it stops.
   */
  public static Behavior<Command> create(String device, PassEngine engine,
      ExecutorService engineThread, int maxBatch) {
    return Behaviors.setup(ctx -> new DeviceWorker(ctx, device, engine, engineThread, maxBatch));
  }

  /** Loads an engine for {@code device} on a new, named engine thread (blocking). */
  public static DeviceRuntime loadRuntime(String device,
      java.util.Collection<dev.salient.server.engine.ModelPackage> packages) {
    ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "salient-engine-" + device);
      t.setDaemon(true);
      return t;
    });
    try {
      InferenceEngine engine =
          CompletableFuture.supplyAsync(() -> InferenceEngine.load(device, packages), thread).join();
      return new DeviceRuntime(device, engine, thread);
    } catch (RuntimeException e) {
      thread.shutdownNow();
      throw e;
    }
  }

  /** A loaded engine and its thread. */
  public record DeviceRuntime(String device, PassEngine engine, ExecutorService thread) {}

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(StartJob.class, this::onStartJob)
        .onMessage(RoundDone.class, this::onRoundDone)
        .onMessage(JobReady.class, this::onJobReady)
        .onMessage(StreamClosed.class, this::onStreamClosed)
        .onMessage(EventsFailed.class, this::onEventsFailed)
        .onSignal(PostStop.class, signal -> onPostStop())
        .build();
  }

  private Behavior<Command> onStartJob(StartJob start) {
    Job job = start.job();
    jobs.put(job.id(), job);
    endListeners.put(job.id(), start.onEnd());
    getContext().pipeToSelf(job.sink().whenClosed(), (ok, err) -> new StreamClosed(job.id()));
    ready.addLast(job);
    runRound();
    return this;
  }

  private void runRound() {
    if (engineBusy) {
      return;
    }
    dropExpired();
    if (ready.isEmpty()) {
      return;
    }
    Job first = ready.pollFirst();
    Pass firstPass = first.nextPass();
    List<Job> batch = new ArrayList<>();
    List<Pass> passes = new ArrayList<>();
    batch.add(first);
    passes.add(firstPass);
    int rows = firstPass.size();
    // Gather the next pass of every other ready job that can share the engine call.
    for (var it = ready.iterator(); it.hasNext() && rows < maxBatch; ) {
      Job job = it.next();
      Pass pass = job.nextPass();
      if (job.modelName().equals(first.modelName()) && compatible(firstPass, pass)
          && rows + pass.size() <= maxBatch) {
        it.remove();
        batch.add(job);
        passes.add(pass);
        rows += pass.size();
      }
    }
    Pass combined = combine(passes);
    String model = first.modelName();
    engineBusy = true;
    CompletionStage<PassResult> call =
        CompletableFuture.supplyAsync(() -> engine.run(model, combined), engineThread);
    int[] rowCounts = passes.stream().mapToInt(Pass::size).toArray();
    getContext().pipeToSelf(call,
        (result, error) -> new RoundDone(batch, rowCounts, result, error));
  }

  /** Jobs whose deadline passed leave before their next pass. */
  private void dropExpired() {
    long now = System.nanoTime();
    for (Job job : new ArrayList<>(ready)) {
      if (job.pastDeadline(now)) {
        getContext().getLog().info("request {} passed its deadline; stopping it", job.requestId());
        endJob(job, new SalientException.DeadlineExceeded("the request's deadline passed after "
            + job.passes() + " model passes; allow more time or ask for fewer steps"));
      }
    }
  }

  private static boolean compatible(Pass a, Pass b) {
    if (!a.extras().equals(b.extras())) {
      return false;
    }
    if (a.objective() == null || b.objective() == null) {
      return a.objective() == null && b.objective() == null;
    }
    return a.objective().output() == b.objective().output();
  }

  private static Pass combine(List<Pass> passes) {
    if (passes.size() == 1) {
      return passes.get(0);
    }
    List<float[]> images = new ArrayList<>();
    List<float[]> weights = new ArrayList<>();
    int[] ranks = new int[passes.stream().mapToInt(Pass::size).sum()];
    int row = 0;
    for (Pass p : passes) {
      images.addAll(p.images());
      if (p.objective() != null) {
        weights.addAll(p.objective().classWeights());
        System.arraycopy(p.objective().ranks(), 0, ranks, row, p.size());
      }
      row += p.size();
    }
    Pass first = passes.get(0);
    return new Pass(images, first.objective() == null ? null
        : new Pass.Objective(first.objective().output(), weights, ranks), first.extras());
  }

  private Behavior<Command> onRoundDone(RoundDone done) {
    engineBusy = false;
    int row = 0;
    for (int i = 0; i < done.batch().size(); i++) {
      Job job = done.batch().get(i);
      int n = done.rows()[i];
      if (jobs.containsKey(job.id())) {
        if (done.error() != null) {
          getContext().getLog().error("engine call on {} failed for request {}", device,
              job.requestId(), done.error());
          endJob(job, new SalientException.Unavailable("the model engine on " + device
              + " failed: " + rootMessage(done.error()) + "; retry the request", done.error()));
        } else {
          deliver(job, done.result().slice(row, row + n));
        }
      }
      row += n;
    }
    runRound();
    return this;
  }

  private void deliver(Job job, PassResult result) {
    List<ExplainEvent> events;
    try {
      events = job.onPassResult(result);
    } catch (SalientException e) {
      endJob(job, e);
      return;
    } catch (RuntimeException e) {
      getContext().getLog().error("request {} failed in its method", job.requestId(), e);
      endJob(job, new IllegalStateException("internal error in the method: " + e.getMessage(), e));
      return;
    }
    CompletionStage<Boolean> sent = CompletableFuture.completedFuture(true);
    for (ExplainEvent event : events) {
      sent = sent.thenCompose(ok -> ok ? job.sink().offer(event)
          : CompletableFuture.completedFuture(false));
    }
    getContext().pipeToSelf(sent, (ok, error) -> error != null ? new EventsFailed(job.id(), error)
        : Boolean.TRUE.equals(ok) ? new JobReady(job.id()) : new StreamClosed(job.id()));
  }

  private Behavior<Command> onJobReady(JobReady msg) {
    Job job = jobs.get(msg.jobId());
    if (job == null) {
      return this;
    }
    if (job.isFinished()) {
      job.sink().complete();
      endJob(job, null);
    } else {
      ready.addLast(job);
      runRound();
    }
    return this;
  }

  private Behavior<Command> onStreamClosed(StreamClosed msg) {
    Job job = jobs.get(msg.jobId());
    if (job != null) {
      getContext().getLog().info("request {} cancelled by its client; freeing it",
          job.requestId());
      ready.remove(job);
      endJob(job, null);
    }
    return this;
  }

  private Behavior<Command> onEventsFailed(EventsFailed msg) {
    Job job = jobs.get(msg.jobId());
    if (job != null) {
      endJob(job, msg.error());
    }
    return this;
  }

  private void endJob(Job job, Throwable error) {
    jobs.remove(job.id());
    ready.remove(job);
    if (error != null) {
      job.sink().fail(error);
    }
    ActorRef<ExplainSupervisor.Command> listener = endListeners.remove(job.id());
    if (listener != null) {
      listener.tell(new ExplainSupervisor.JobEnded(getContext().getSelf(), job.id()));
    }
  }

  private Behavior<Command> onPostStop() {
    for (Job job : new ArrayList<>(jobs.values())) {
      endJob(job, new SalientException.Unavailable("the server is stopping; retry elsewhere"));
    }
    engineThread.submit(engine::close);
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
