package dev.salient.client;

import io.grpc.CallCredentials;
import io.grpc.Metadata;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Sends {@code authorization: Bearer <token>} with every call, as a server with
 * {@code salient.auth.tokens-file} requires. Use it with TLS on any network: the token is a
 * password.
 */
public final class BearerToken extends CallCredentials {
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final String token;

  /** Credentials for {@code token}; fails on an empty token or one that spans lines. */
  public BearerToken(String token) {
    Objects.requireNonNull(token, "token");
    if (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
      throw new IllegalArgumentException("a bearer token is printable ASCII without spaces; "
          + "./salient token NAME mints one");
    }
    this.token = token;
  }

  /** {@inheritDoc} */
  @Override
  public void applyRequestMetadata(RequestInfo requestInfo, Executor appExecutor,
      MetadataApplier applier) {
    Metadata headers = new Metadata();
    headers.put(AUTHORIZATION, "Bearer " + token);
    applier.apply(headers);
  }
}
