package dev.salient.server.video;

import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.render.OverlayRenderer;
import dev.salient.server.util.SalientException;
import dev.salient.server.video.FrameAnswer.Dropped;
import dev.salient.server.video.FrameAnswer.Explained;
import dev.salient.server.worker.EventSink;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.SchedulerMetrics.FrameOutcome;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSink;

/**
 * One live-video stream: takes frames as they arrive, explains at most {@code maxInFlight} at
 * once through the supervisor (their passes batch with every other request's on the device
 * workers), and answers every frame exactly once, in arrival order.
 *
 * <p>Latest frame wins: when every slot is taken, one frame waits; a newer one replaces it and the
 * replaced frame is answered as dropped, so answers describe recent frames instead of a growing
 * queue. With {@link VideoSettings.DropPolicy#NEVER_DROP} the session stops reading instead. The
 * input is read with backpressure and the answers are sent with backpressure, so a client that
 * neither reads nor stops sending holds a bounded number of frames.
 *
 * <p>The client half-closing ends the session after the frames it sent are answered; the response
 * stream going away (a cancel) frees every frame's job at once; the stream's deadline fails it
 * with DEADLINE_EXCEEDED.
 */
public final class VideoSession extends AbstractBehavior<VideoSession.Command> {

  /** Answered frames a client may leave unread before the session stops reading frames. */
  static final int ANSWER_BACKLOG = 16;

  /** Messages of a session. */
  public sealed interface Command {}

  /** Connects the session to its response stream and its frames; sent once, first. */
  public record Start(ActorRef<Output> output, Source<VideoInput, ?> frames) implements Command {}

  /**
   * End the stream now with {@code reason}'s status (the server is stopping); before
   * {@link Start}, as soon as it starts.
   */
  public record Stop(Throwable reason) implements Command {}

  /** The response stream took the last answer. */
  public enum OutputAck implements Command { INSTANCE }

  /** What the session sends to its response stream. */
  public sealed interface Output {}

  /** The answer to one frame. */
  public record Answer(FrameAnswer answer) implements Output {}

  /** Every frame is answered: complete the stream. */
  public record End() implements Output {}

  /** End the stream with this error's status. */
  public record Failed(Throwable error) implements Output {}

  /** Acknowledges a frame to the input stream, asking for the next. */
  enum InputAck { INSTANCE }

  private record InputReady(ActorRef<InputAck> ackTo) implements Command {}

  private record FrameArrived(ActorRef<InputAck> ackTo, VideoInput frame) implements Command {}

  private enum InputCompleted implements Command { INSTANCE }

  private record InputFailed(Throwable error) implements Command {}

  private record Decoded(long sequence, float[] image, Throwable error) implements Command {}

  private record JobEvent(long sequence, ExplainEvent event) implements Command {}

  private record JobEnded(long sequence, Throwable error) implements Command {}

  private enum OutputGone implements Command { INSTANCE }

  private enum DeadlinePassed implements Command { INSTANCE }

  /** A frame from arrival to answer. */
  private static final class Slot {
    final VideoInput input;
    float[] image;
    FrameSink sink;
    ExplainEvent.Started started;
    ExplainEvent.Result result;
    FrameAnswer.Outcome outcome;

    Slot(VideoInput input) {
      this.input = input;
    }
  }

  private final String sessionId;
  private final VideoSettings settings;
  private final ActorRef<ExplainSupervisor.Command> supervisor;
  private final Executor decoder;
  private final long deadlineNanos;
  /** Who opened the session; each frame's order carries it. */
  private final String client;
  private final SchedulerMetrics metrics;
  private final TimerScheduler<Command> timers;
  private final ArrayDeque<Slot> unanswered = new ArrayDeque<>();
  private final Map<Long, Slot> bySequence = new HashMap<>();
  private final MapSmoother smoother;
  private ActorRef<Output> output;
  private ActorRef<InputAck> heldAck;
  private Slot waiting;
  private int inFlight;
  private long lastSequence = Long.MIN_VALUE;
  private long answered;
  private boolean awaitingOutputAck;
  private boolean inputDone;
  private boolean ended;
  /** A {@link Stop} that came before {@link Start}. */
  private Throwable stopBeforeStart;

  private VideoSession(ActorContext<Command> context, TimerScheduler<Command> timers,
      String sessionId, VideoSettings settings, ActorRef<ExplainSupervisor.Command> supervisor,
      Executor decoder, long deadlineNanos, String client, SchedulerMetrics metrics) {
    super(context);
    this.client = client;
    this.metrics = metrics;
    metrics.videoSessionOpened();
    this.timers = timers;
    this.sessionId = sessionId;
    this.settings = settings;
    this.supervisor = supervisor;
    this.decoder = decoder;
    this.deadlineNanos = deadlineNanos;
    this.smoother = new MapSmoother(settings.smoothing());
  }

  /**
   * A session that explains frames with {@code settings} by submitting them to
   * {@code supervisor}, decoding them on {@code decoder}; it fails with DEADLINE_EXCEEDED at
   * {@code deadlineNanos} ({@link System#nanoTime()}; {@link Long#MAX_VALUE} for none), and
   * counts its frames in {@code metrics}.
   */
  public static Behavior<Command> create(String sessionId, VideoSettings settings,
      ActorRef<ExplainSupervisor.Command> supervisor, Executor decoder, long deadlineNanos,
      SchedulerMetrics metrics) {
    return create(sessionId, settings, supervisor, decoder, deadlineNanos,
        ExplainOrder.ANONYMOUS, metrics);
  }

  /** A session as above whose frames are orders of {@code client}. */
  public static Behavior<Command> create(String sessionId, VideoSettings settings,
      ActorRef<ExplainSupervisor.Command> supervisor, Executor decoder, long deadlineNanos,
      String client, SchedulerMetrics metrics) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new VideoSession(ctx, timers,
        sessionId, settings, supervisor, decoder, deadlineNanos, client, metrics)));
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Start.class, this::onStart)
        .onMessage(Stop.class, this::onStop)
        .onMessage(InputReady.class, this::onInputReady)
        .onMessage(FrameArrived.class, this::onFrameArrived)
        .onMessageEquals(InputCompleted.INSTANCE, this::onInputCompleted)
        .onMessage(InputFailed.class, failed -> fail(failed.error()))
        .onMessage(Decoded.class, this::onDecoded)
        .onMessage(JobEvent.class, this::onJobEvent)
        .onMessage(JobEnded.class, this::onJobEnded)
        .onMessageEquals(OutputAck.INSTANCE, this::onOutputAck)
        .onMessageEquals(OutputGone.INSTANCE, this::onOutputGone)
        .onMessageEquals(DeadlinePassed.INSTANCE, () -> fail(
            new SalientException.DeadlineExceeded("the video stream's deadline passed after "
                + answered + " answered frames; open the stream with a longer deadline")))
        .onSignal(PostStop.class, signal -> onPostStop())
        .build();
  }

  private Behavior<Command> onStart(Start start) {
    output = start.output();
    getContext().watchWith(output, OutputGone.INSTANCE);
    if (stopBeforeStart != null) {
      return fail(stopBeforeStart);
    }
    if (deadlineNanos != Long.MAX_VALUE) {
      timers.startSingleTimer(DeadlinePassed.INSTANCE,
          Duration.ofNanos(Math.max(0, deadlineNanos - System.nanoTime())));
    }
    // A one-frame input buffer: frames the session cannot take yet stay with the client.
    start.frames().runWith(ActorSink.actorRefWithBackpressure(getContext().getSelf(),
        FrameArrived::new, InputReady::new, InputAck.INSTANCE, InputCompleted.INSTANCE,
        InputFailed::new).withAttributes(Attributes.inputBuffer(1, 1)), getContext().getSystem());
    getContext().getLog().debug("video session {} started: {} on {}, {} in flight, {}",
        sessionId, settings.method(), settings.model().name(), settings.maxInFlight(),
        settings.dropPolicy());
    return this;
  }

  private Behavior<Command> onStop(Stop stop) {
    if (output == null) {
      stopBeforeStart = stop.reason();
      return this;
    }
    return fail(stop.reason());
  }

  private Behavior<Command> onInputReady(InputReady ready) {
    heldAck = ready.ackTo();
    acknowledgeInputIfRoom();
    return this;
  }

  private Behavior<Command> onFrameArrived(FrameArrived arrived) {
    heldAck = arrived.ackTo();
    VideoInput frame = arrived.frame();
    if (frame.sequence() <= lastSequence) {
      return fail(new SalientException.InvalidArgument("frame sequence " + frame.sequence()
          + " does not increase: the previous frame was " + lastSequence
          + "; number frames in strictly increasing order"));
    }
    lastSequence = frame.sequence();
    Slot slot = new Slot(frame);
    unanswered.addLast(slot);
    bySequence.put(frame.sequence(), slot);
    if (inFlight < settings.maxInFlight()) {
      submit(slot);
    } else {
      if (waiting != null) {
        waiting.outcome = new Dropped(Dropped.SUPERSEDED, "");
      }
      waiting = slot;
    }
    sendAnswers();
    acknowledgeInputIfRoom();
    return ended ? Behaviors.stopped() : this;
  }

  /** Asks for the next frame unless that would hold more frames than the session allows. */
  private void acknowledgeInputIfRoom() {
    boolean room = unanswered.size() < settings.maxInFlight() + 1 + ANSWER_BACKLOG
        && (settings.dropPolicy() == VideoSettings.DropPolicy.LATEST_FRAME_WINS
            || waiting == null);
    if (heldAck != null && !ended && room) {
      heldAck.tell(InputAck.INSTANCE);
      heldAck = null;
    }
  }

  /** Decodes the frame (here when it is a copy, else on the decoder) and submits its job. */
  private void submit(Slot slot) {
    inFlight++;
    long sequence = slot.input.sequence();
    if (slot.input.cheap()) {
      Decoded decoded;
      try {
        decoded = new Decoded(sequence, slot.input.pixels().get(), null);
      } catch (RuntimeException e) {
        decoded = new Decoded(sequence, null, e);
      }
      onDecoded(decoded);
      return;
    }
    CompletionStage<float[]> decoded =
        CompletableFuture.supplyAsync(slot.input.pixels(), decoder);
    getContext().pipeToSelf(decoded, (image, error) -> new Decoded(sequence, image, error));
  }

  private Behavior<Command> onDecoded(Decoded decoded) {
    Slot slot = bySequence.get(decoded.sequence());
    if (ended || slot == null) {
      return this;
    }
    if (decoded.error() != null) {
      Throwable cause = decoded.error() instanceof java.util.concurrent.CompletionException
          && decoded.error().getCause() != null ? decoded.error().getCause() : decoded.error();
      return fail(new SalientException.InvalidArgument(
          "frame " + decoded.sequence() + ": " + cause.getMessage(), cause));
    }
    slot.image = decoded.image();
    slot.sink = new FrameSink(getContext().getSelf(), decoded.sequence());
    ExplainOrder order = new ExplainOrder(sessionId + "/" + decoded.sequence(),
        settings.model().name(), decoded.image(), settings.method(), settings.parameters(),
        settings.target(), settings.topK(), Integer.MAX_VALUE, false, false, deadlineNanos,
        client, false, 0, true);
    supervisor.tell(new ExplainSupervisor.Submit(order, slot.sink, true, sessionId));
    return this;
  }

  private Behavior<Command> onJobEvent(JobEvent e) {
    Slot slot = bySequence.get(e.sequence());
    if (slot != null) {
      if (e.event() instanceof ExplainEvent.Started s) {
        slot.started = s;
      } else if (e.event() instanceof ExplainEvent.Result r) {
        slot.result = r;
      }
    }
    return this;
  }

  private Behavior<Command> onJobEnded(JobEnded e) {
    Slot slot = bySequence.get(e.sequence());
    if (ended || slot == null) {
      return this;
    }
    inFlight--;
    slot.sink = null;
    Throwable error = e.error();
    if (error == null && (slot.started == null || slot.result == null)) {
      error = new IllegalStateException("frame " + e.sequence() + " ended without a result");
    }
    if (error instanceof SalientException.CapacityExceeded
        || error instanceof SalientException.Unavailable) {
      slot.outcome = new Dropped(Dropped.SERVER_BUSY, error.getMessage());
    } else if (error != null) {
      return fail(error);
    } else {
      slot.outcome = new Explained(slot.started.predicted(), slot.started.target(),
          slot.started.top(), slot.result.maps(), slot.result.values());
    }
    if (waiting != null && inFlight < settings.maxInFlight()) {
      Slot next = waiting;
      waiting = null;
      submit(next);
    }
    sendAnswers();
    acknowledgeInputIfRoom();
    return ended ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onOutputAck() {
    awaitingOutputAck = false;
    sendAnswers();
    acknowledgeInputIfRoom();
    return ended ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onInputCompleted() {
    inputDone = true;
    sendAnswers();
    return ended ? Behaviors.stopped() : this;
  }

  /** Sends the answered frames at the head of the queue, one per acknowledgement, in order. */
  private void sendAnswers() {
    while (!awaitingOutputAck && !ended && !unanswered.isEmpty()
        && unanswered.peekFirst().outcome != null) {
      Slot slot = unanswered.pollFirst();
      bySequence.remove(slot.input.sequence());
      output.tell(new Answer(answer(slot)));
      answered++;
      awaitingOutputAck = true;
    }
    if (!awaitingOutputAck && !ended && inputDone && unanswered.isEmpty()) {
      ended = true;
      output.tell(new End());
      getContext().getLog().debug("video session {} ended after {} frames", sessionId, answered);
    }
  }

  private FrameAnswer answer(Slot slot) {
    FrameAnswer.Outcome outcome = slot.outcome;
    metrics.videoFrame(outcome instanceof Explained ? FrameOutcome.EXPLAINED
        : ((Dropped) outcome).reason().equals(Dropped.SUPERSEDED) ? FrameOutcome.SUPERSEDED
        : FrameOutcome.SERVER_BUSY);
    if (outcome instanceof Explained x) {
      List<ExplainEvent.SaliencyMap> maps = smoother.next(x.maps());
      if (settings.renderPng()) {
        maps = maps.stream().map(m -> new ExplainEvent.SaliencyMap(m.name(), m.tensor(),
            m.colourScale(), OverlayRenderer.overlayPng(slot.image, settings.model().input(),
                m.tensor(), m.colourScale()))).toList();
      }
      outcome = new Explained(x.predicted(), x.target(), x.top(), maps, x.values());
    }
    return new FrameAnswer(slot.input.sequence(), slot.input.captureTimeUs(), outcome,
        System.nanoTime() - slot.input.receivedNanos());
  }

  private Behavior<Command> onOutputGone() {
    if (!ended) {
      getContext().getLog().debug("video session {} cancelled by its client after {} answered "
          + "frames; freeing its {} frames in flight", sessionId, answered, inFlight);
      ended = true;
    }
    return Behaviors.stopped();
  }

  private Behavior<Command> fail(Throwable error) {
    if (!ended) {
      ended = true;
      getContext().getLog().debug("video session {} failed: {}", sessionId, error.toString());
      freeJobs();
      output.tell(new Failed(error));
    }
    return Behaviors.stopped();
  }

  private Behavior<Command> onPostStop() {
    metrics.videoSessionClosed();
    if (!ended && output != null) {
      output.tell(new Failed(new SalientException.Unavailable(
          "the video session stopped unexpectedly; reopen the stream")));
    }
    freeJobs();
    return this;
  }

  /** Jobs still on a worker leave before their next pass. */
  private void freeJobs() {
    for (Slot slot : bySequence.values()) {
      if (slot.sink != null) {
        slot.sink.close();
      }
    }
  }

  /** Where one frame's job sends its events: back to the session. */
  private static final class FrameSink implements EventSink {
    private final ActorRef<Command> session;
    private final long sequence;
    private final CompletableFuture<Done> closed = new CompletableFuture<>();

    FrameSink(ActorRef<Command> session, long sequence) {
      this.session = session;
      this.sequence = sequence;
    }

    @Override
    public CompletionStage<Boolean> offer(ExplainEvent event) {
      if (closed.isDone()) {
        return CompletableFuture.completedFuture(false);
      }
      session.tell(new JobEvent(sequence, event));
      return CompletableFuture.completedFuture(true);
    }

    @Override
    public void complete() {
      if (closed.complete(Done.getInstance())) {
        session.tell(new JobEnded(sequence, null));
      }
    }

    @Override
    public void fail(Throwable error) {
      if (closed.complete(Done.getInstance())) {
        session.tell(new JobEnded(sequence, error));
      }
    }

    @Override
    public CompletionStage<Done> whenClosed() {
      return closed;
    }

    void close() {
      closed.complete(Done.getInstance());
    }
  }
}
