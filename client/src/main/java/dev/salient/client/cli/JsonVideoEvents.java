package dev.salient.client.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.salient.grpc.ExplainedFrame;
import dev.salient.grpc.FrameExplanation;

/** Formats the answers and the summary of {@code salient video --json}, one object per line. */
final class JsonVideoEvents {

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private JsonVideoEvents() {}

  /** {@code {"event":"frame","sequence":S,"latency_ms":T,"predicted":...,...}}. */
  static String frame(FrameExplanation a, double latencyMs) {
    ExplainedFrame e = a.getExplained();
    ObjectNode o = event("frame", a, latencyMs);
    o.put("predicted", e.getPredicted().getLabel());
    o.put("probability", e.getPredicted().getProbability());
    o.put("target", e.getTarget().getLabel());
    o.put("target_probability", e.getTarget().getProbability());
    return JsonEvents.write(o);
  }

  /** {@code {"event":"dropped","sequence":S,"reason":R,"latency_ms":T,...}}. */
  static String dropped(FrameExplanation a, double latencyMs) {
    ObjectNode o = event("dropped", a, latencyMs);
    o.put("reason", a.getDropped().getReason());
    if (!a.getDropped().getDetail().isEmpty()) {
      o.put("detail", a.getDropped().getDetail());
    }
    return JsonEvents.write(o);
  }

  /** The last line: counts, latency percentiles of the explained frames, their rate. */
  static String summary(VideoSummary s) {
    ObjectNode o = NODES.objectNode();
    o.put("event", "summary");
    o.put("frames_in", s.framesIn());
    o.put("frames_out", s.framesOut());
    o.put("dropped", s.dropped());
    putMillis(o, "p50_ms", s.p50Ms());
    putMillis(o, "p99_ms", s.p99Ms());
    o.put("fps", Math.round(s.fps() * 100) / 100.0);
    o.put("seconds", Math.round(s.seconds() * 1000) / 1000.0);
    o.put("out", s.out() == null ? null : s.out().toString());
    return JsonEvents.write(o);
  }

  private static ObjectNode event(String name, FrameExplanation a, double latencyMs) {
    ObjectNode o = NODES.objectNode();
    o.put("event", name);
    o.put("sequence", a.getSequence());
    o.put("capture_time_us", a.getCaptureTimeUs());
    putMillis(o, "latency_ms", latencyMs);
    putMillis(o, "server_latency_ms", a.getServerLatencyUs() / 1000.0);
    return o;
  }

  private static void putMillis(ObjectNode o, String key, double ms) {
    if (Double.isNaN(ms)) {
      o.putNull(key);
    } else {
      o.put(key, Math.round(ms * 1000) / 1000.0);
    }
  }
}
