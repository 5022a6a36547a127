package dev.salient.server.video;

import dev.salient.server.explanation.ExplainEvent.ClassScore;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import java.util.List;
import java.util.Map;

/**
 * The answer to one frame of a live-video session: explained or dropped.
 *
 * @param serverLatencyNanos from receiving the frame to sending this answer
 */
public record FrameAnswer(long sequence, long captureTimeUs, Outcome outcome,
    long serverLatencyNanos) {

  /** What became of the frame. */
  public sealed interface Outcome {}

  /** The frame's prediction and maps (smoothed when the session asked for it). */
  public record Explained(ClassScore predicted, ClassScore target, List<ClassScore> top,
      List<SaliencyMap> maps, Map<String, Double> values) implements Outcome {}

  /**
   * The frame was not explained.
   *
   * @param reason {@link #SUPERSEDED} or {@link #SERVER_BUSY}
   * @param detail the server's message, or empty
   */
  public record Dropped(String reason, String detail) implements Outcome {
    /** A newer frame arrived while this one waited for a slot. */
    public static final String SUPERSEDED = "superseded";
    /** The server refused the frame's work (full, or its worker unavailable). */
    public static final String SERVER_BUSY = "server_busy";
  }
}
