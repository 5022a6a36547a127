package dev.salient.server.explanation;

import java.util.List;
import java.util.Map;

/**
 * What an explanation streams back, in order: one {@link Started}, any number of {@link Frame}s,
 * one {@link Result}. Plain values: the service layer translates them to the wire format.
 */
public sealed interface ExplainEvent {

  /** The prediction and the class being explained. */
  record Started(
      String requestId,
      String model,
      String method,
      ClassScore predicted,
      List<ClassScore> top,
      ClassScore target,
      Map<String, String> parameters,
      long[] inputShape)
      implements ExplainEvent {}

  /**
   * One step of a method.
   *
   * @param values method-specific numbers, e.g. {@code blurred_fraction}
   * @param image the current image, or null
   * @param map the current map, or null
   * @param passes model passes (per image) used so far by the request
   */
  record Frame(
      int step,
      String phase,
      float targetProbability,
      List<ClassScore> top,
      Map<String, Double> values,
      FloatTensor image,
      FloatTensor map,
      int passes)
      implements ExplainEvent {}

  /**
   * The final maps and numbers.
   *
   * @param provenance what the result came from, filled in by the worker (null from a method)
   */
  record Result(
      List<SaliencyMap> maps,
      Map<String, Double> values,
      List<Curve> curves,
      List<Snapshot> snapshots,
      int steps,
      int passes,
      long elapsedMillis,
      Provenance provenance)
      implements ExplainEvent {

    /** A result as a method makes it, without provenance. */
    public Result(List<SaliencyMap> maps, Map<String, Double> values, List<Curve> curves,
        List<Snapshot> snapshots, int steps, int passes, long elapsedMillis) {
      this(maps, values, curves, snapshots, steps, passes, elapsedMillis, null);
    }

    /** The same result with the wall time filled in. */
    public Result withElapsedMillis(long millis) {
      return new Result(maps, values, curves, snapshots, steps, passes, millis, provenance);
    }

    /** The same result with its maps replaced (e.g. with rendered overlays). */
    public Result withMaps(List<SaliencyMap> newMaps) {
      return new Result(newMaps, values, curves, snapshots, steps, passes, elapsedMillis,
          provenance);
    }

    /** The same result with its provenance. */
    public Result withProvenance(Provenance newProvenance) {
      return new Result(maps, values, curves, snapshots, steps, passes, elapsedMillis,
          newProvenance);
    }
  }

  /**
   * Enough to reproduce a result with the same image (docs/reproducibility.md).
   *
   * @param model the model's name
   * @param modelSha256 the SHA-256 of the model package's content (see
   *     {@code engine.ModelContentHash})
   * @param method the method's name
   * @param parameters the method's parameters in effect, defaults (seeds among them) filled in
   * @param targetClass the class explained, as an index
   * @param serverVersion the server's version
   * @param deterministic whether the request's passes ran alone, one image per engine call
   */
  record Provenance(
      String model,
      String modelSha256,
      String method,
      Map<String, String> parameters,
      int targetClass,
      String serverVersion,
      boolean deterministic) {

    /** Copies the parameters. */
    public Provenance {
      parameters = java.util.Collections.unmodifiableMap(
          new java.util.LinkedHashMap<>(parameters));
    }
  }

  /** A class and the model's score for it. */
  record ClassScore(int index, String label, float probability, float logit) {}

  /** A dense float tensor, row-major. */
  record FloatTensor(long[] shape, float[] data) {
    /** Checks that the data fills the shape. */
    public FloatTensor {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      if (n != data.length) {
        throw new IllegalArgumentException("tensor data does not fill its shape");
      }
    }
  }

  /**
   * A named map, in the model's input resolution.
   *
   * @param overlayPng the map rendered over the input image, or null when not requested
   * @param figurePng the overlay with a title and a colour bar, or null when not requested
   */
  record SaliencyMap(String name, FloatTensor tensor, ColourScale colourScale, byte[] overlayPng,
      byte[] figurePng) {
    /** A map without a rendered overlay. */
    public SaliencyMap(String name, FloatTensor tensor, ColourScale colourScale) {
      this(name, tensor, colourScale, null, null);
    }

    /** A map with a rendered overlay but no figure. */
    public SaliencyMap(String name, FloatTensor tensor, ColourScale colourScale,
        byte[] overlayPng) {
      this(name, tensor, colourScale, overlayPng, null);
    }
  }

  /** A curve such as probability against blurred fraction. */
  record Curve(String name, String xLabel, String yLabel, double[] x, double[] y) {}

  /** A snapshot along the way. */
  record Snapshot(String label, int step, Map<String, Double> values, List<SaliencyMap> maps) {}
}
