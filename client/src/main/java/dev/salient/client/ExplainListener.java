package dev.salient.client;

import dev.salient.grpc.ExplainEvent;

/** Receives the events of one explanation in order: started, frames, result. */
@FunctionalInterface
public interface ExplainListener {

  /** Called once per event, on a stream thread; throwing cancels the explanation. */
  void onEvent(ExplainEvent event) throws Exception;
}
