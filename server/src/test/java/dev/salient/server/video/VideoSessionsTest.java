package dev.salient.server.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.video.VideoSettings.DropPolicy;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The parent of the video sessions. */
class VideoSessionsTest {
  static final ActorTestKit kit = ActorTestKit.create();
  static final VideoSettings SETTINGS = VideoSettings.validate(
      ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE), MethodRegistry.standard(),
      "vanilla", Map.of(), new TargetSpec.Predicted(), 1, 8, DropPolicy.LATEST_FRAME_WINS, 0, 3, false);

  final TestProbe<ExplainSupervisor.Command> supervisor = kit.createTestProbe();
  final ActorRef<VideoSessions.Command> sessions = kit.spawn(
      VideoSessions.create(supervisor.ref(), new SchedulerMetrics(new SimpleMeterRegistry())));

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  ActorRef<VideoSession.Command> open() {
    TestProbe<ActorRef<VideoSession.Command>> reply = kit.createTestProbe();
    sessions.tell(new VideoSessions.Open(SETTINGS, Runnable::run, Long.MAX_VALUE, reply.ref()));
    return reply.receiveMessage();
  }

  @Test
  void eachStreamGetsASessionOfItsOwnUnderTheParent() {
    ActorRef<VideoSession.Command> first = open();
    ActorRef<VideoSession.Command> second = open();

    assertNotEquals(first, second);
    assertEquals(sessions.path(), first.path().parent());
    assertEquals(sessions.path(), second.path().parent());
  }

  @Test
  void aSessionWhoseStreamEndedLeavesTheParentOpeningOthers() {
    ActorRef<VideoSession.Command> first = open();
    TestProbe<VideoSession.Output> output = kit.createTestProbe();
    first.tell(new VideoSession.Start(output.ref(), Source.empty()));
    output.expectTerminated(first);

    ActorRef<VideoSession.Command> next = open();

    assertNotEquals(first.path(), next.path());
    assertEquals(sessions.path(), next.path().parent());
  }

  TestProbe<Done> drain(Duration period) {
    TestProbe<Done> drained = kit.createTestProbe();
    sessions.tell(new VideoSessions.Drain(period, drained.ref()));
    return drained;
  }

  /** Opens a session whose client sends no frames and keeps its stream open. */
  TestProbe<VideoSession.Output> openIdleStream() {
    ActorRef<VideoSession.Command> session = open();
    TestProbe<VideoSession.Output> output = kit.createTestProbe();
    session.tell(new VideoSession.Start(output.ref(), Source.<VideoInput>maybe()));
    return output;
  }

  @Test
  void withNoStreamOpenTheDrainEndsAtOnce() {
    drain(Duration.ofSeconds(30)).expectMessage(Duration.ofSeconds(1), Done.getInstance());
  }

  @Test
  void aStreamOpenedDuringTheDrainIsRefusedAsShuttingDown() {
    drain(Duration.ofSeconds(30));

    VideoSession.Failed failed =
        openIdleStream().expectMessageClass(VideoSession.Failed.class);

    assertInstanceOf(SalientException.ShuttingDown.class, failed.error());
    assertEquals(SalientException.ShuttingDown.REFUSED, failed.error().getMessage());
  }

  @Test
  void aStreamStillOpenAtThePeriodsEndIsEndedAsCutOffAndThenTheDrainEnds() {
    TestProbe<VideoSession.Output> output = openIdleStream();

    TestProbe<Done> drained = drain(Duration.ofMillis(200));

    drained.expectNoMessage(Duration.ofMillis(100));
    VideoSession.Failed failed = output.expectMessageClass(VideoSession.Failed.class);
    assertEquals(SalientException.ShuttingDown.CUT_OFF, failed.error().getMessage());
    drained.expectMessage(Done.getInstance());
  }
}
