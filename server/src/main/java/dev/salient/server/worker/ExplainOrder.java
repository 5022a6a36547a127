package dev.salient.server.worker;

import java.util.Map;

/**
 * A request to explain (or, with no method, only classify) one decoded image.
 *
 * @param model model name, already known to exist
 * @param image pixels [C, H, W] in the model's pixel space
 * @param method method name, or null to classify only
 * @param topK classes listed in events
 * @param frameStride send every n-th frame (the last always)
 * @param frameTensors frames carry the current image and map
 * @param renderPng result maps carry PNG overlays
 * @param deadlineNanos when the client stops waiting, as a {@link System#nanoTime()} value
 *     ({@link Long#MAX_VALUE}: no deadline)
 * @param client who asked: the caller's identity for quotas and fair shares (a token's name, or
 *     the peer's address), {@link #ANONYMOUS} when unknown
 * @param deterministic run every pass of the request alone, never in an engine call shared with
 *     other requests, so that the answer is the same bit for bit whatever else the server is
 *     doing (see docs/reproducibility.md)
 * @param priority the request's own priority level, added to its model's (higher runs first;
 *     0: none of its own)
 * @param liveFrame whether this is a frame of a live-video stream (which gets {@code
 *     salient.sharing.video-priority} on top)
 */
public record ExplainOrder(
    String requestId,
    String model,
    float[] image,
    String method,
    Map<String, String> parameters,
    TargetSpec target,
    int topK,
    int frameStride,
    boolean frameTensors,
    boolean renderPng,
    long deadlineNanos,
    String client,
    boolean deterministic,
    int priority,
    boolean liveFrame) {

  /** The client of an order whose caller is not known. */
  public static final String ANONYMOUS = "anonymous";

  /**
   * An order whose passes may share engine calls with other requests' passes, of no priority of
   * its own, that is not a video frame.
   */
  public ExplainOrder(String requestId, String model, float[] image, String method,
      Map<String, String> parameters, TargetSpec target, int topK, int frameStride,
      boolean frameTensors, boolean renderPng, long deadlineNanos, String client) {
    this(requestId, model, image, method, parameters, target, topK, frameStride, frameTensors,
        renderPng, deadlineNanos, client, false, 0, false);
  }

  /** Copies the parameters. */
  public ExplainOrder {
    parameters = Map.copyOf(parameters);
    client = client == null || client.isEmpty() ? ANONYMOUS : client;
  }

  /** The same order with the request's own priority level {@code level}. */
  public ExplainOrder withPriority(int level) {
    return new ExplainOrder(requestId, model, image, method, parameters, target, topK,
        frameStride, frameTensors, renderPng, deadlineNanos, client, deterministic, level,
        liveFrame);
  }

  /** The same order with its deadline at {@code nanos} (a {@link System#nanoTime()} value). */
  public ExplainOrder withDeadlineNanos(long nanos) {
    return new ExplainOrder(requestId, model, image, method, parameters, target, topK,
        frameStride, frameTensors, renderPng, nanos, client, deterministic, priority, liveFrame);
  }

  /** Whether the deadline has passed. */
  public boolean pastDeadline(long nowNanos) {
    return deadlineNanos != Long.MAX_VALUE && nowNanos - deadlineNanos > 0;
  }

  /** Whether this order only classifies. */
  public boolean classifyOnly() {
    return method == null;
  }
}
