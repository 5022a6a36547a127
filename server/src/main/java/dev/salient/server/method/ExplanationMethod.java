package dev.salient.server.method;

import dev.salient.server.engine.ModelPackage;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * An explanation method. It knows nothing of gRPC, actors or threads: it validates its
 * parameters, then runs as a {@link MethodRun}, a step-wise state machine that asks for model
 * passes and turns their results into frames and a result.
 */
public interface ExplanationMethod {

  /** The name clients use, e.g. "vanilla". */
  String name();

  /** One line for DescribeModel and the docs. */
  String description();

  /** What the explanation is made of, for clients that draw it. */
  MethodFamily family();

  /** The parameters, their defaults and the values they accept. */
  List<Parameter<?>> parameters();

  /**
   * Whether the method is fast enough to explain every frame of a live video: one or a few
   * passes a frame.
   */
  default boolean explainsVideo() {
    return false;
  }

  /**
   * The parameters a live-video frame is explained with, from those the client set: this
   * method's video defaults filled in where they differ from a single image's.
   */
  default Map<String, String> videoParameters(Map<String, String> requested) {
    return requested;
  }

  /**
   * How far this method's result may move when its passes are batched with other requests'
   * (see {@link BatchTolerance}); null for a method that has not declared it, which the
   * reproducibility test refuses.
   */
  default BatchTolerance batchTolerance() {
    return null;
  }

  /**
   * The values and maps this method's result carries ({@link ResultSchema}); null for a method
   * that has not declared them, which {@code ResultSchemaTest} refuses.
   */
  default ResultSchema resultSchema() {
    return null;
  }

  /** Whether this method can explain {@code model} (e.g. Grad-CAM needs a feature layer). */
  default boolean supports(ModelPackage model) {
    return true;
  }

  /** What a model needs for this method, said when one that lacks it is asked for; or "". */
  default String requirement() {
    return "";
  }

  /** What {@code model}, which this method does not support, lacks for it; or "". */
  default String requirement(ModelPackage model) {
    return requirement();
  }

  /**
   * Parses and validates request parameters before any model work.
   *
   * @throws dev.salient.server.util.SalientException.InvalidArgument for a bad parameter
   */
  Prepared prepare(Map<String, String> parameters);

  /**
   * A method with validated parameters, ready to start on an image.
   *
   * @param parameters the parameters in effect, defaults filled in, for the started event
   * @param starter starts explaining {@code context.image()} for {@code context.target()}
   */
  record Prepared(Map<String, String> parameters,
      Function<MethodContext, MethodRun> starter) {

    /** Copies the parameters. */
    public Prepared {
      parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** Starts a run on {@code context}. */
    public MethodRun start(MethodContext context) {
      return starter.apply(context);
    }
  }
}
