package dev.salient.server.cluster;

/**
 * A message that may cross between nodes: serialized as CBOR by Pekko's Jackson serializer
 * ({@code pekko.actor.serialization-bindings}), never by Java serialization.
 */
public interface ClusterMessage {}
