package dev.salient.server.video;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.TargetSpec;
import java.util.List;
import java.util.Map;

/**
 * The settings of one live-video session, validated against the model and the server's caps.
 *
 * @param model the model every frame is explained with
 * @param method a method that {@link ExplanationMethod#explainsVideo() explains video}
 * @param parameters the method's parameters (video defaults filled in)
 * @param target which class each frame explains
 * @param maxInFlight frames explained at once
 * @param dropPolicy what happens to frames that arrive while every slot is taken
 * @param smoothing weight of the previous map in the exponential moving average, in [0, 1)
 * @param topK classes listed in each answer
 * @param renderPng answers carry PNG overlays of their (smoothed) maps
 */
public record VideoSettings(
    ModelPackage model,
    String method,
    Map<String, String> parameters,
    TargetSpec target,
    int maxInFlight,
    DropPolicy dropPolicy,
    double smoothing,
    int topK,
    boolean renderPng) {

  /** In-flight frames when the client does not say. */
  public static final int DEFAULT_IN_FLIGHT = 2;

  /** What happens to frames that arrive while every in-flight slot is taken. */
  public enum DropPolicy {
    /** At most one frame waits; a newer frame replaces it and the replaced one is dropped. */
    LATEST_FRAME_WINS,
    /** Nothing is dropped: the session stops reading frames until a slot frees. */
    NEVER_DROP
  }

  /** Copies the parameters. */
  public VideoSettings {
    parameters = Map.copyOf(parameters);
  }

  /**
   * Validates a client's session request: the method is a video method the model supports, its
   * parameters parse, the target fits the model, and the numbers are in range.
   *
   * @param maxInFlight 0 for {@link #DEFAULT_IN_FLIGHT}
   * @param inFlightCap the server's cap on {@code maxInFlight}
   * @throws SalientException.InvalidArgument naming the field and its valid values
   */
  public static VideoSettings validate(ModelPackage model, MethodRegistry methods, String method,
      Map<String, String> parameters, TargetSpec target, int maxInFlight, int inFlightCap,
      DropPolicy dropPolicy, double smoothing, int topK, boolean renderPng) {
    List<String> videoMethods =
        methods.videoMethodsFor(model).stream().map(ExplanationMethod::name).toList();
    if (!videoMethods.contains(method)) {
      throw new SalientException.InvalidArgument("method \"" + method + "\" is not offered for "
          + "live video; use one of " + videoMethods + " (or Explain for a single image)");
    }
    if (maxInFlight < 0 || maxInFlight > inFlightCap) {
      throw new SalientException.InvalidArgument("max_in_flight " + maxInFlight
          + " is out of range: use 1.." + inFlightCap + " (0 means " + DEFAULT_IN_FLIGHT
          + "; the cap is salient.video.max-in-flight)");
    }
    if (!(smoothing >= 0 && smoothing < 1)) {
      throw new SalientException.InvalidArgument("smoothing " + smoothing
          + " is out of range: use [0, 1) (0 is off; 0.8 keeps 80 % of the previous map)");
    }
    ExplanationMethod explainer = methods.lookup(method, model);
    Map<String, String> effective = explainer.videoParameters(parameters);
    explainer.prepare(effective);
    target.validate(model);
    return new VideoSettings(model, method, effective, target,
        maxInFlight == 0 ? Math.min(DEFAULT_IN_FLIGHT, inFlightCap) : maxInFlight, dropPolicy,
        smoothing, Math.min(topK, model.numClasses()), renderPng);
  }
}
