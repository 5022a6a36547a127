package dev.salient.server.cluster;

import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.QueueEventSink;
import dev.salient.server.worker.SchedulerMetrics;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.SourceRef;
import org.apache.pekko.stream.javadsl.StreamRefs;

/**
 * The worker side of a node: runs the orders any gateway of the cluster places on it through
 * this node's supervisor and devices, and streams each one's events back as a {@link SourceRef},
 * whose demand-driven flow control holds back only that job when its client reads slowly. Every
 * {@code load-report-interval} it publishes its load to the gateways on the topic
 * {@link #LOAD_TOPIC}.
 */
public final class WorkerNode {
  /** The topic on which worker nodes report their load to every gateway. */
  public static final String LOAD_TOPIC = "salient-worker-load";

  private WorkerNode() {}

  /** Messages of a worker node. */
  public sealed interface Command {}

  /**
   * Run {@code order}, whose deadline is {@code remainingNanos} from its arrival ({@link
   * Long#MAX_VALUE}: none): a node's {@link System#nanoTime()} means nothing on another. Replies
   * with the order's events.
   */
  public record RunOrder(ExplainOrder order, long remainingNanos, boolean continuesStream,
      ActorRef<OrderEvents> replyTo) implements Command, ClusterMessage {}

  /** The events of an order, to be read by the gateway that placed it. */
  public record OrderEvents(SourceRef<Delivery> events) implements ClusterMessage {}

  /**
   * One element of an order's event stream: an event, or the failure that ends the order (named
   * by its {@link SalientException} kind, so the gateway gives its client the same status).
   */
  public record Delivery(ExplainEvent event, String failureKind, String failureMessage)
      implements ClusterMessage {

    static Delivery of(ExplainEvent event) {
      return new Delivery(event, null, null);
    }

    static Delivery failure(Throwable error) {
      String kind = error instanceof SalientException ? error.getClass().getSimpleName()
          : "Internal";
      return new Delivery(null, kind, error.getMessage());
    }

    /** The failure as the exception that maps to the status the worker gave it. */
    SalientException toException(String node) {
      return switch (failureKind) {
        case "InvalidArgument" -> new SalientException.InvalidArgument(failureMessage);
        case "NotFound" -> new SalientException.NotFound(failureMessage);
        case "CapacityExceeded" -> new SalientException.CapacityExceeded(failureMessage);
        case "ShuttingDown" -> new SalientException.ShuttingDown(failureMessage);
        case "DeadlineExceeded" -> new SalientException.DeadlineExceeded(failureMessage);
        case "PermissionDenied" -> new SalientException.PermissionDenied(failureMessage);
        case "Unavailable" -> new SalientException.Unavailable(failureMessage);
        default -> new SalientException.Unavailable("worker node " + node + " failed the "
            + "request: " + failureMessage + " (see that node's log)");
      };
    }
  }

  /**
   * A worker node's load, as it reports it.
   *
   * @param node where to send orders
   * @param address the node's cluster address
   * @param models the models it serves
   * @param workers its device workers, with their jobs and engine statistics
   * @param draining whether it is shutting down (and takes no new orders)
   */
  public record WorkerLoad(ActorRef<Command> node, String address, List<String> models,
      List<SchedulerMetrics.WorkerSnapshot> workers, boolean draining) implements ClusterMessage {

    /** Jobs on the node's workers now. */
    public int jobs() {
      return workers.stream().mapToInt(SchedulerMetrics.WorkerSnapshot::activeJobs).sum();
    }
  }

  /** Stop taking orders: tell the gateways so now (the supervisor drains the running ones). */
  public enum Drain implements Command { INSTANCE }

  private enum ReportLoad implements Command { INSTANCE }

  /**
   * A worker node running orders through {@code supervisor}, buffering up to {@code streamBuffer}
   * events per order, that reports its load on {@code topic} every {@code interval}.
   */
  public static Behavior<Command> create(ActorRef<ExplainSupervisor.Command> supervisor,
      List<String> models, SchedulerMetrics metrics, int streamBuffer,
      ActorRef<Topic.Command<WorkerLoad>> topic, Duration interval) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      Materializer materializer = Materializer.createMaterializer(ctx);
      String address = ctx.getSystem().address().toString();
      timers.startTimerWithFixedDelay(ReportLoad.INSTANCE, Duration.ZERO, interval);
      return running(ctx.getSelf(), supervisor, models, metrics, streamBuffer, topic,
          materializer, address, false);
    }));
  }

  private static Behavior<Command> running(ActorRef<Command> self,
      ActorRef<ExplainSupervisor.Command> supervisor,
      List<String> models, SchedulerMetrics metrics, int streamBuffer,
      ActorRef<Topic.Command<WorkerLoad>> topic, Materializer materializer, String address,
      boolean draining) {
    return Behaviors.receive(Command.class)
        .onMessage(RunOrder.class, run -> {
          run.replyTo().tell(new OrderEvents(
              events(run, supervisor, streamBuffer).runWith(StreamRefs.sourceRef(),
                  materializer)));
          return Behaviors.same();
        })
        .onMessageEquals(ReportLoad.INSTANCE, () -> {
          report(self, topic, models, metrics, address, draining);
          return Behaviors.same();
        })
        .onMessageEquals(Drain.INSTANCE, () -> {
          report(self, topic, models, metrics, address, true);
          return running(self, supervisor, models, metrics, streamBuffer, topic, materializer,
              address, true);
        })
        .build();
  }

  private static void report(ActorRef<Command> self, ActorRef<Topic.Command<WorkerLoad>> topic,
      List<String> models, SchedulerMetrics metrics, String address, boolean draining) {
    topic.tell(Topic.publish(new WorkerLoad(self, address, models, metrics.snapshot().workers(),
        draining)));
  }

  private static org.apache.pekko.stream.javadsl.Source<Delivery, org.apache.pekko.NotUsed>
      events(RunOrder run, ActorRef<ExplainSupervisor.Command> supervisor, int streamBuffer) {
    ExplainOrder order = run.order().withDeadlineNanos(run.remainingNanos() == Long.MAX_VALUE
        ? Long.MAX_VALUE : System.nanoTime() + run.remainingNanos());
    return QueueEventSink.source(streamBuffer,
            sink -> supervisor.tell(new ExplainSupervisor.Submit(order, sink,
                run.continuesStream())))
        .map(Delivery::of)
        .recover(new PFBuilder<Throwable, Delivery>().matchAny(Delivery::failure).build());
  }
}
