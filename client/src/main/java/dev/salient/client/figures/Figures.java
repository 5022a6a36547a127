package dev.salient.client.figures;

import java.util.Map;
import java.util.Optional;

/** The figure writers, by method name. Methods without one get only their map files. */
public final class Figures {
  private static final Map<String, MethodFigures> BY_METHOD = Map.of(
      "geosal", new AdversarialFigures(),
      "fgsm", new AdversarialFigures(),
      "bim", new AdversarialFigures(),
      "nonlinear", new NonlinearFigures(),
      "blur_salient", new NonlinearFigures());

  private Figures() {}

  /** The figure writer of {@code method}, if it has one. */
  public static Optional<MethodFigures> forMethod(String method) {
    return Optional.ofNullable(BY_METHOD.get(method));
  }
}
