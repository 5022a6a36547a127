package dev.salient.server.worker;

import dev.salient.server.method.ExplainEvent;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.SourceQueueWithComplete;

/** An {@link EventSink} over a backpressured Pekko Streams source queue. */
public final class QueueEventSink implements EventSink {
  private final SourceQueueWithComplete<ExplainEvent> queue;

  /** Wraps {@code queue} (created with {@code OverflowStrategy.backpressure()}). */
  public QueueEventSink(SourceQueueWithComplete<ExplainEvent> queue) {
    this.queue = queue;
  }

  @Override
  public CompletionStage<Boolean> offer(ExplainEvent event) {
    return queue.offer(event)
        .handle((result, error) -> error == null && result == QueueOfferResult.enqueued());
  }

  @Override
  public void complete() {
    queue.complete();
  }

  @Override
  public void fail(Throwable error) {
    queue.fail(error);
  }

  @Override
  public CompletionStage<?> whenClosed() {
    return queue.watchCompletion();
  }
}
