package dev.salient.server.video;

import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The parent of the live-video sessions: it spawns one {@link VideoSession} per stream, which
 * submits each frame to the supervisor as an order of its own. Sessions live here rather than
 * under the supervisor so that the supervisor knows nothing of video.
 */
public final class VideoSessions {

  /** Messages of the parent. */
  public sealed interface Command {}

  /**
   * Open a session for one stream and reply with its actor.
   *
   * @param deadlineNanos the stream's deadline, {@link System#nanoTime()} based
   */
  public record Open(VideoSettings settings, Executor decoder, long deadlineNanos,
      ActorRef<ActorRef<VideoSession.Command>> replyTo) implements Command {}

  private VideoSessions() {}

  /** The parent of sessions whose frames go to {@code supervisor}. */
  public static Behavior<Command> create(ActorRef<ExplainSupervisor.Command> supervisor,
      SchedulerMetrics metrics) {
    return Behaviors.setup(context -> {
      long[] nextId = {1};
      return Behaviors.receive(Command.class)
          .onMessage(Open.class, open -> {
            String id = "video-" + nextId[0]++;
            open.replyTo().tell(context.spawn(VideoSession.create(id, open.settings(),
                supervisor, open.decoder(), open.deadlineNanos(), metrics), id));
            return Behaviors.same();
          })
          .build();
    });
  }
}
