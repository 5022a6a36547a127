package dev.salient.client.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.Curve;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Provenance;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Started;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Formats explain events as single-line JSON objects, one per event.
 *
 * <p>Method-specific numbers ({@code Frame.values}, {@code Result.values}) are flattened into
 * top-level keys, so a new method only adds keys. A value whose name collides with a fixed key is
 * written as {@code values.<name>} instead.
 */
public final class JsonEvents {

  static final ObjectMapper MAPPER = new ObjectMapper();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private JsonEvents() {}

  /** The {@code started} line. */
  public static String started(Started s) {
    ObjectNode o = event("started");
    o.put("request_id", s.getRequestId());
    o.put("model", s.getModel());
    o.put("method", s.getMethod());
    o.set("predicted", s.hasPredicted() ? score(s.getPredicted()) : NODES.nullNode());
    o.set("top", scores(s.getTopList()));
    o.set("target", s.hasTarget() ? score(s.getTarget()) : NODES.nullNode());
    ObjectNode params = o.putObject("params");
    s.getParamsMap().forEach(params::put);
    o.set("input_shape", longs(s.getInputShapeList()));
    return write(o);
  }

  /** The {@code frame} line, with {@code Frame.values} as top-level keys. */
  public static String frame(Frame f) {
    ObjectNode o = event("frame");
    o.put("step", f.getStep());
    o.put("phase", f.getPhase());
    o.put("target_probability", f.getTargetProbability());
    o.set("top", scores(f.getTopList()));
    o.put("passes", f.getPasses());
    flatten(o, f.getValuesMap(), Set.of());
    return write(o);
  }

  /**
   * The {@code result} line, with {@code Result.values} as top-level keys; {@code written} holds
   * the files of each map, in the result's map order, or is empty when none were written.
   */
  public static String result(Result r, List<WrittenMap> written) {
    ObjectNode o = event("result");
    o.put("steps", r.getSteps());
    o.put("passes", r.getPasses());
    o.put("elapsed_ms", r.getElapsedMs());
    flatten(o, r.getValuesMap(), Set.of("maps", "curves", "provenance"));
    if (r.hasProvenance()) {
      Provenance p = r.getProvenance();
      ObjectNode provenance = o.putObject("provenance");
      provenance.put("model", p.getModel()).put("model_sha256", p.getModelSha256())
          .put("method", p.getMethod()).put("target_class", p.getTargetClass())
          .put("server_version", p.getServerVersion()).put("deterministic", p.getDeterministic());
      ObjectNode params = provenance.putObject("params");
      new java.util.TreeMap<>(p.getParamsMap()).forEach(params::put);
    }
    ArrayNode maps = NODES.arrayNode();
    for (int i = 0; i < r.getMapsCount(); i++) {
      SaliencyMap m = r.getMaps(i);
      WrittenMap files = i < written.size() ? written.get(i) : null;
      ObjectNode map = maps.addObject();
      map.put("name", m.getName());
      map.set("shape", longs(m.getTensor().getShapeList()));
      map.put("colour_scale", m.getColourScale());
      map.put("file", files == null ? null : path(files.png()));
      map.put("npy", files == null ? null : path(files.npy()));
      map.put("figure", files == null ? null : path(files.figure()));
    }
    o.set("maps", maps);
    ArrayNode curves = NODES.arrayNode();
    for (Curve c : r.getCurvesList()) {
      ObjectNode curve = curves.addObject();
      curve.put("name", c.getName());
      curve.put("x_label", c.getXLabel());
      curve.put("y_label", c.getYLabel());
      curve.set("x", doubles(c.getXList()));
      curve.set("y", doubles(c.getYList()));
    }
    o.set("curves", curves);
    return write(o);
  }

  /** One class score as {@code {"index","label","probability","logit"}}. */
  static ObjectNode score(ClassScore s) {
    ObjectNode o = NODES.objectNode();
    o.put("index", s.getIndex());
    o.put("label", s.getLabel());
    // Floats stay floats so 0.98 prints as 0.98, not as its widened double 0.9800000190734863.
    o.put("probability", s.getProbability());
    o.put("logit", s.getLogit());
    return o;
  }

  static ArrayNode scores(List<ClassScore> scores) {
    ArrayNode a = NODES.arrayNode();
    scores.forEach(s -> a.add(score(s)));
    return a;
  }

  static ArrayNode longs(List<Long> values) {
    ArrayNode a = NODES.arrayNode();
    values.forEach(a::add);
    return a;
  }

  static ArrayNode doubles(List<Double> values) {
    ArrayNode a = NODES.arrayNode();
    values.forEach(a::add);
    return a;
  }

  static String write(ObjectNode o) {
    try {
      return MAPPER.writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise a JSON tree", e);
    }
  }

  private static ObjectNode event(String name) {
    ObjectNode o = NODES.objectNode();
    o.put("event", name);
    return o;
  }

  private static void flatten(ObjectNode o, Map<String, Double> values, Set<String> laterKeys) {
    values.forEach((k, v) -> o.put(o.has(k) || laterKeys.contains(k) ? "values." + k : k, v));
  }

  private static String path(Path p) {
    return p == null ? null : p.toString();
  }
}
