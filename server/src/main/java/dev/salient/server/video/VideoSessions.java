package dev.salient.server.video;

import dev.salient.server.util.SalientException;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The parent of the live-video sessions: it spawns one {@link VideoSession} per stream, which
 * submits each frame to the supervisor as an order of its own. Sessions live here rather than
 * under the supervisor so that the supervisor knows nothing of video. While the server drains,
 * new sessions are refused and running ones get the drain period, then are stopped.
 */
public final class VideoSessions extends AbstractBehavior<VideoSessions.Command> {

  /** Messages of the parent. */
  public sealed interface Command {}

  /**
   * Open a session for one stream and reply with its actor.
   *
   * @param deadlineNanos the stream's deadline, {@link System#nanoTime()} based
   * @param client who opened it (see {@link dev.salient.server.worker.ExplainOrder#client()})
   */
  public record Open(VideoSettings settings, Executor decoder, long deadlineNanos,
      String client, ActorRef<ActorRef<VideoSession.Command>> replyTo) implements Command {
    /** A session of an unknown client. */
    public Open(VideoSettings settings, Executor decoder, long deadlineNanos,
        ActorRef<ActorRef<VideoSession.Command>> replyTo) {
      this(settings, decoder, deadlineNanos, ExplainOrder.ANONYMOUS, replyTo);
    }
  }

  /**
   * Refuse new sessions from now on; stop those still open after {@code period}. Replies when
   * no session is open (at once if none is).
   */
  public record Drain(Duration period, ActorRef<Done> replyTo) implements Command {}

  private record SessionEnded(ActorRef<VideoSession.Command> session) implements Command {}

  private enum DrainPeriodOver implements Command { INSTANCE }

  private final ActorRef<ExplainSupervisor.Command> supervisor;
  private final SchedulerMetrics metrics;
  private final TimerScheduler<Command> timers;
  private final Set<ActorRef<VideoSession.Command>> open = new HashSet<>();
  private final List<ActorRef<Done>> drainWaiters = new ArrayList<>();
  private long nextId = 1;
  private boolean draining;

  private VideoSessions(ActorContext<Command> context, TimerScheduler<Command> timers,
      ActorRef<ExplainSupervisor.Command> supervisor, SchedulerMetrics metrics) {
    super(context);
    this.timers = timers;
    this.supervisor = supervisor;
    this.metrics = metrics;
  }

  /** The parent of sessions whose frames go to {@code supervisor}. */
  public static Behavior<Command> create(ActorRef<ExplainSupervisor.Command> supervisor,
      SchedulerMetrics metrics) {
    return Behaviors.setup(context -> Behaviors.withTimers(
        timers -> new VideoSessions(context, timers, supervisor, metrics)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Open.class, this::onOpen)
        .onMessage(SessionEnded.class, this::onSessionEnded)
        .onMessage(Drain.class, this::onDrain)
        .onMessageEquals(DrainPeriodOver.INSTANCE, this::onDrainPeriodOver)
        .build();
  }

  private Behavior<Command> onOpen(Open request) {
    String id = "video-" + nextId++;
    ActorRef<VideoSession.Command> session = getContext().spawn(VideoSession.create(id,
        request.settings(), supervisor, request.decoder(), request.deadlineNanos(),
        request.client(), metrics), id);
    getContext().watchWith(session, new SessionEnded(session));
    open.add(session);
    request.replyTo().tell(session);
    if (draining) {
      session.tell(new VideoSession.Stop(
          new SalientException.ShuttingDown(SalientException.ShuttingDown.REFUSED)));
    }
    return this;
  }

  private Behavior<Command> onSessionEnded(SessionEnded ended) {
    open.remove(ended.session());
    replyIfDrained();
    return this;
  }

  private Behavior<Command> onDrain(Drain drain) {
    if (!draining) {
      draining = true;
      timers.startSingleTimer(DrainPeriodOver.INSTANCE, drain.period());
    }
    drainWaiters.add(drain.replyTo());
    replyIfDrained();
    return this;
  }

  private Behavior<Command> onDrainPeriodOver() {
    SalientException cutOff =
        new SalientException.ShuttingDown(SalientException.ShuttingDown.CUT_OFF);
    open.forEach(session -> session.tell(new VideoSession.Stop(cutOff)));
    return this;
  }

  private void replyIfDrained() {
    if (draining && open.isEmpty()) {
      drainWaiters.forEach(w -> w.tell(Done.getInstance()));
      drainWaiters.clear();
    }
  }
}
