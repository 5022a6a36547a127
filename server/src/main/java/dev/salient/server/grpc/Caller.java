package dev.salient.server.grpc;

import dev.salient.server.util.SalientException;
import dev.salient.server.worker.ExplainOrder;
import java.util.List;
import java.util.Set;
import org.apache.pekko.grpc.javadsl.Metadata;

/**
 * Who made a call, as {@link Authentication} found it: the token's name, or the peer's IP address
 * without authentication; and the models that token allows (empty: every model).
 *
 * @param name the client of the per-client quota and the access log
 * @param models the models the caller may use; empty for all
 */
public record Caller(String name, Set<String> models) {

  /** Copies the models. */
  public Caller {
    models = Set.copyOf(models);
  }

  /** The caller of a call, from the headers {@link Authentication} set on it. */
  static Caller of(Metadata metadata) {
    String name = metadata.getText(Authentication.CLIENT_HEADER).orElse(ExplainOrder.ANONYMOUS);
    Set<String> models = metadata.getText(Authentication.MODELS_HEADER)
        .map(m -> Set.copyOf(List.of(m.split(",")))).orElse(Set.of());
    return new Caller(name, models);
  }

  /**
   * Checks that the caller may use {@code model}.
   *
   * @throws SalientException.PermissionDenied naming the model, the token and what it allows
   */
  void requireModel(String model) {
    if (!models.isEmpty() && !models.contains(model)) {
      throw new SalientException.PermissionDenied("the token of " + name + " does not allow "
          + "model " + model + " (it allows " + models.stream().sorted().toList() + "); use one "
          + "of those, or have its line in salient.auth.tokens-file list " + model + " under "
          + "models=");
    }
  }
}
