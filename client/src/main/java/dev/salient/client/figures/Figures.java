package dev.salient.client.figures;

import dev.salient.grpc.MethodInfo;
import java.util.Optional;

/**
 * The figure writers, by method family (as DescribeModel reports it), so that every method of a
 * family is drawn without the client knowing its name. Gradient methods get only their map files.
 */
public final class Figures {

  private Figures() {}

  /** The figure writer of a method of {@code family}, if the family has one. */
  public static Optional<MethodFigures> forFamily(MethodInfo.Family family) {
    return switch (family) {
      case ADVERSARIAL -> Optional.of(new AdversarialFigures());
      case NONLINEAR -> Optional.of(new NonlinearFigures());
      default -> Optional.empty();
    };
  }
}
