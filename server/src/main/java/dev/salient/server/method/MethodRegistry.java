package dev.salient.server.method;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.util.SalientException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The explanation methods this server offers, by name. */
public final class MethodRegistry {
  private final Map<String, ExplanationMethod> methods = new LinkedHashMap<>();

  /** A registry of {@code methods}. */
  public MethodRegistry(List<ExplanationMethod> methods) {
    for (ExplanationMethod m : methods) {
      if (this.methods.put(m.name(), m) != null) {
        throw new IllegalArgumentException("two methods named " + m.name());
      }
    }
  }

  /** All methods Salient implements. */
  public static MethodRegistry standard() {
    return new MethodRegistry(List.of(
        new VanillaGradient(),
        new SignedSaliency(),
        new ActiveInactiveSaliency(),
        new SmoothGrad(),
        new IntegratedGradients(),
        new GradCam(),
        new GeoSal(),
        new FastGradientSign(),
        new BasicIterativeMethod(),
        new NonlinearSaliency(),
        new SalientBlur(),
        new Occlusion(),
        new Lime(),
        RectifiedGradient.withInput(),
        RectifiedGradient.noBias(),
        new DeepTaylor(),
        new VisualBackprop()));
  }

  /** All methods, in registration order. */
  public List<ExplanationMethod> all() {
    return List.copyOf(methods.values());
  }

  /** The methods that can explain {@code model}. */
  public List<ExplanationMethod> supportedBy(ModelPackage model) {
    return methods.values().stream().filter(m -> m.supports(model)).toList();
  }

  /** The methods that can explain every frame of a live video of {@code model}. */
  public List<ExplanationMethod> videoMethodsFor(ModelPackage model) {
    return supportedBy(model).stream().filter(ExplanationMethod::explainsVideo).toList();
  }

  /**
   * The method {@code name}, if {@code model} supports it.
   *
   * @throws SalientException.InvalidArgument when the method is unknown or unsupported
   */
  public ExplanationMethod lookup(String name, ModelPackage model) {
    ExplanationMethod method = methods.get(name);
    if (method == null) {
      throw new SalientException.InvalidArgument(
          "unknown method \"" + name + "\"; this server offers " + methods.keySet());
    }
    if (!method.supports(model)) {
      String lacks = method.requirement(model);
      String requirement = lacks.isEmpty() ? "" : " (" + lacks + ")";
      throw new SalientException.InvalidArgument(
          "method " + name + " cannot explain model " + model.name() + requirement
              + "; it supports "
              + supportedBy(model).stream().map(ExplanationMethod::name).toList());
    }
    return method;
  }
}
