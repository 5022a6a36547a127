package dev.salient.server.worker;

import dev.salient.server.explanation.ExplainEvent;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Source;

/**
 * An {@link EventSink} over a bounded Pekko Streams source queue. While the stream's buffer has
 * room an offer is accepted at once, on the caller's thread, so a job whose client keeps up is
 * ready for its next pass without waiting for the stream; when the buffer is full, the offer
 * completes as soon as the client has taken an event and made room.
 */
public final class QueueEventSink implements EventSink {
  private final CompletableFuture<Done> closed = new CompletableFuture<>();
  private BoundedSourceQueue<ExplainEvent> queue;
  /** The event waiting for room, and its offer; guarded by this. */
  private ExplainEvent waiting;
  private CompletableFuture<Boolean> waitingOffer;
  /** The stream ended; guarded by this. Its queue may still report "full" for a moment after. */
  private boolean terminated;

  private QueueEventSink() {}

  /**
   * A response stream buffering at most {@code buffer} events; each time it is materialized it
   * hands its new sink to {@code onStart}.
   */
  public static Source<ExplainEvent, NotUsed> source(int buffer,
      Consumer<EventSink> onStart) {
    return Source.fromMaterializer((materializer, attributes) -> {
      QueueEventSink sink = new QueueEventSink();
      return Source.<ExplainEvent>queue(buffer)
          .map(event -> {
            sink.onTaken();
            return event;
          })
          .watchTermination((queue, done) -> {
            sink.start(queue, done);
            onStart.accept(sink);
            return NotUsed.getInstance();
          });
    }).mapMaterializedValue(ignored -> NotUsed.getInstance());
  }

  private void start(BoundedSourceQueue<ExplainEvent> queue, CompletionStage<Done> done) {
    synchronized (this) {
      this.queue = queue;
    }
    done.whenComplete((ok, error) -> {
      CompletableFuture<Boolean> pending;
      synchronized (this) {
        terminated = true;
        pending = waitingOffer;
        waiting = null;
        waitingOffer = null;
      }
      if (pending != null) {
        pending.complete(false);
      }
      closed.complete(Done.getInstance());
    });
  }

  @Override
  public CompletionStage<Boolean> offer(ExplainEvent event) {
    synchronized (this) {
      if (waitingOffer != null) {
        throw new IllegalStateException("offer before the last offer completed");
      }
      if (terminated) {
        return CompletableFuture.completedFuture(false);
      }
      QueueOfferResult result = queue.offer(event);
      if (result == QueueOfferResult.dropped()) {
        waiting = event;
        waitingOffer = new CompletableFuture<>();
        return waitingOffer;
      }
      return CompletableFuture.completedFuture(result == QueueOfferResult.enqueued());
    }
  }

  /** The stream took an event from the buffer: a waiting event fits now. */
  private void onTaken() {
    CompletableFuture<Boolean> accepted;
    boolean enqueued;
    synchronized (this) {
      if (waiting == null) {
        return;
      }
      QueueOfferResult result = queue.offer(waiting);
      if (result == QueueOfferResult.dropped()) {
        return;
      }
      enqueued = result == QueueOfferResult.enqueued();
      accepted = waitingOffer;
      waiting = null;
      waitingOffer = null;
    }
    accepted.complete(enqueued);
  }

  @Override
  public void complete() {
    try {
      queue.complete();
    } catch (IllegalStateException alreadyClosed) {
      // The client cancelled first: nothing left to end.
    }
  }

  @Override
  public void fail(Throwable error) {
    try {
      queue.fail(error);
    } catch (IllegalStateException alreadyClosed) {
      // The client cancelled first: nobody left to tell.
    }
  }

  @Override
  public CompletionStage<Done> whenClosed() {
    return closed;
  }
}
