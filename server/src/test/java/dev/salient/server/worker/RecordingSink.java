package dev.salient.server.worker;

import dev.salient.server.explanation.ExplainEvent;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.pekko.Done;

/** An event sink that records what a job sends; {@link #cancel()} acts as a client cancel. */
final class RecordingSink implements EventSink {
  final List<ExplainEvent> events = new CopyOnWriteArrayList<>();
  final CompletableFuture<Throwable> outcome = new CompletableFuture<>();
  private final CompletableFuture<Done> closed = new CompletableFuture<>();

  @Override
  public CompletionStage<Boolean> offer(ExplainEvent event) {
    if (closed.isDone()) {
      return CompletableFuture.completedFuture(false);
    }
    events.add(event);
    return CompletableFuture.completedFuture(true);
  }

  @Override
  public void complete() {
    outcome.complete(null);
    closed.complete(Done.getInstance());
  }

  @Override
  public void fail(Throwable error) {
    outcome.complete(error);
    closed.complete(Done.getInstance());
  }

  @Override
  public CompletionStage<Done> whenClosed() {
    return closed;
  }

  void cancel() {
    closed.complete(Done.getInstance());
  }
}
