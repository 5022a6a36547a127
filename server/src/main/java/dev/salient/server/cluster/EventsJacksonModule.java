package dev.salient.server.cluster;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.module.SimpleModule;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.worker.TargetSpec;

/**
 * Tells Jackson the subtypes of the sealed interfaces that cross between nodes inside cluster
 * messages, by name, so that the explanation and worker packages carry no Jackson annotations.
 * Named in {@code pekko.serialization.jackson.jackson-modules} (see {@link ClusterNode#config}).
 */
public final class EventsJacksonModule extends SimpleModule {

  /** The module Pekko's Jackson serializer instantiates. */
  public EventsJacksonModule() {
    super("salient-events");
    setMixInAnnotation(ExplainEvent.class, ExplainEventTypes.class);
    setMixInAnnotation(TargetSpec.class, TargetSpecTypes.class);
  }

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
  @JsonSubTypes({
      @JsonSubTypes.Type(value = ExplainEvent.Started.class, name = "started"),
      @JsonSubTypes.Type(value = ExplainEvent.Frame.class, name = "frame"),
      @JsonSubTypes.Type(value = ExplainEvent.Result.class, name = "result")})
  private interface ExplainEventTypes {}

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
  @JsonSubTypes({
      @JsonSubTypes.Type(value = TargetSpec.Predicted.class, name = "predicted"),
      @JsonSubTypes.Type(value = TargetSpec.ClassIndex.class, name = "index"),
      @JsonSubTypes.Type(value = TargetSpec.Label.class, name = "label"),
      @JsonSubTypes.Type(value = TargetSpec.Rank.class, name = "rank")})
  private interface TargetSpecTypes {}
}
