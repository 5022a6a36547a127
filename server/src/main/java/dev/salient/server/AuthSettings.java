package dev.salient.server;

import com.typesafe.config.Config;
import dev.salient.server.auth.TokenFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code salient.auth} section: the tokens file (empty: no authentication), how often it is
 * checked for changes, and the gRPC services any caller may use without a token.
 */
public record AuthSettings(String tokensFile, Duration reloadInterval, Set<String> publicServices) {

  /** Checks the interval; copies the services. */
  public AuthSettings {
    if (reloadInterval.isNegative() || reloadInterval.isZero()) {
      throw new IllegalArgumentException("salient.auth.reload-interval must be positive, got "
          + reloadInterval);
    }
    publicServices = Set.copyOf(publicServices);
  }

  /** Reads {@code salient.auth} from the {@code salient} section. */
  static AuthSettings create(Config salient) {
    List<String> services = salient.getStringList("auth.public-services");
    return new AuthSettings(salient.getString("auth.tokens-file").trim(),
        salient.getDuration("auth.reload-interval"), Set.copyOf(services));
  }

  /** Whether callers need a token. */
  public boolean enabled() {
    return !tokensFile.isBlank();
  }

  /** The tokens file, read now, or empty without authentication; fails naming its key. */
  public Optional<TokenFile> load() {
    return enabled() ? Optional.of(TokenFile.load(Path.of(tokensFile))) : Optional.empty();
  }
}
