package dev.salient.server.grpc;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;

/**
 * Whether the server compresses its responses. Pekko gRPC gzips every response message for a
 * client whose {@code grpc-accept-encoding} names gzip, which grpc-java and most other clients
 * send on every call whether or not they want it; gRPC lets a server answer uncompressed
 * regardless. Without the header in the request the handler answers with identity encoding.
 */
public final class ResponseCompression {
  /** The request header in which a client lists the encodings it can read. */
  public static final String ACCEPT_ENCODING = "grpc-accept-encoding";

  private ResponseCompression() {}

  /** {@code handler} as is when {@code enabled}, else one that never compresses responses. */
  public static Function<HttpRequest, CompletionStage<HttpResponse>> apply(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, boolean enabled) {
    if (enabled) {
      return handler;
    }
    return request -> handler.apply(request.removeHeader(ACCEPT_ENCODING));
  }
}
