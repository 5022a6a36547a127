package dev.salient.server.worker;

import dev.salient.server.explanation.ExplainEvent;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Where a job's events go: the response stream of its request. Offers complete when the stream
 * has room (backpressure); a closed stream means the client cancelled.
 */
public interface EventSink {

  /** Sends {@code event}; completes with true when accepted, false when the stream is closed. */
  CompletionStage<Boolean> offer(ExplainEvent event);

  /** Ends the stream after the events sent. */
  void complete();

  /** Ends the stream with an error status. */
  void fail(Throwable error);

  /**
   * Completes with {@link Done} when the stream ends for any reason (including a client cancel).
   * Never with null: the worker pipes it to itself, and Pekko's dead-letter logging throws on a
   * null message that reaches a stopped worker.
   */
  CompletionStage<Done> whenClosed();
}
