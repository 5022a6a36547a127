package dev.salient.server.grpc;

import dev.salient.server.auth.TokenFile;
import dev.salient.server.auth.Tokens;
import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.grpc.javadsl.MetadataBuilder;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RemoteAddress;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.japi.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who is calling, for every service on the port: with a tokens file, a call to a service that is
 * not public must carry {@code authorization: Bearer <token>} of a known token, or it is answered
 * UNAUTHENTICATED before any service sees it. Every call that goes on carries the caller in
 * headers only this wrapper sets ({@link Caller}): the token's name and the models it allows,
 * or, without a token, the peer's IP address.
 */
public final class Authentication {
  /** The header with the caller's name; a client's own is removed. */
  static final String CLIENT_HEADER = "salient-client";
  /** The header with the models the caller's token allows; a client's own is removed. */
  static final String MODELS_HEADER = "salient-client-models";

  private static final String AUTHORIZATION = "authorization";
  private static final String BEARER = "bearer ";
  private static final ContentType GRPC = ContentTypes.parse("application/grpc+proto");
  private static final Logger log = LoggerFactory.getLogger(Authentication.class);

  private Authentication() {}

  /**
   * {@code handler} behind the check of {@code tokens} (empty: everyone is let in, named by
   * address); calls to {@code publicServices} need no token. Refusals go to {@code accessLog}.
   */
  public static Function<HttpRequest, CompletionStage<HttpResponse>> apply(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, Optional<TokenFile> tokens,
      Set<String> publicServices, AccessLog accessLog, ClassicActorSystemProvider system) {
    return request -> {
      HttpRequest clean = request.removeHeader(CLIENT_HEADER).removeHeader(MODELS_HEADER)
          .removeHeader(AUTHORIZATION);
      String path = request.getUri().path();
      if (tokens.isEmpty() || publicServices.contains(service(path))) {
        return handler.apply(clean.addHeader(RawHeader.create(CLIENT_HEADER, peer(request))));
      }
      String peer = peer(request);
      Tokens.Client client;
      try {
        client = authenticate(request.getHeader(AUTHORIZATION), tokens.get());
      } catch (SalientException.Unauthenticated e) {
        log.debug("{} from {} refused: {}", path, peer, e.getMessage());
        accessLog.refused(path.substring(1), peer, Status.Code.UNAUTHENTICATED);
        request.discardEntityBytes(system);
        return CompletableFuture.completedFuture(refusal(Status.Code.UNAUTHENTICATED,
            e.getMessage()));
      }
      HttpRequest named = clean.addHeader(RawHeader.create(CLIENT_HEADER, client.name()));
      if (!client.models().isEmpty()) {
        named = named.addHeader(RawHeader.create(MODELS_HEADER,
            String.join(",", client.models())));
      }
      return handler.apply(named);
    };
  }

  /**
   * The caller of a request on the HTTP API, as gRPC metadata the services read: with a tokens
   * file, the client of {@code authorization} (a bearer header, or a WebSocket's
   * {@code access_token} query parameter as a browser cannot set headers there); without one,
   * the peer's address.
   *
   * @throws SalientException.Unauthenticated as a gRPC call without a known token is refused
   */
  public static Metadata httpCaller(HttpRequest request, Optional<String> authorization,
      Optional<TokenFile> tokens) {
    if (tokens.isEmpty()) {
      return new MetadataBuilder().addText(CLIENT_HEADER, peer(request)).build();
    }
    Tokens.Client client = authenticate(
        authorization.map(value -> RawHeader.create(AUTHORIZATION, value)), tokens.get());
    MetadataBuilder out = new MetadataBuilder().addText(CLIENT_HEADER, client.name());
    if (!client.models().isEmpty()) {
      out.addText(MODELS_HEADER, String.join(",", client.models()));
    }
    return out.build();
  }

  private static Tokens.Client authenticate(Optional<? extends HttpHeader> authorization,
      TokenFile tokens) {
    if (authorization.isEmpty()) {
      throw new SalientException.Unauthenticated("missing bearer token: send the header "
          + "'authorization: Bearer <token>' (the CLI's --token or SALIENT_TOKEN)");
    }
    String value = authorization.get().value().trim();
    if (!value.toLowerCase(Locale.ROOT).startsWith(BEARER)) {
      throw new SalientException.Unauthenticated("the authorization header is not a bearer "
          + "token: send 'authorization: Bearer <token>'");
    }
    return tokens.find(value.substring(BEARER.length()).trim())
        .orElseThrow(() -> new SalientException.Unauthenticated("unknown bearer token: it is not "
            + "in the server's salient.auth.tokens-file (revoked, mistyped, or for another "
            + "server); ask its operator for a token"));
  }

  /** The service of a gRPC path {@code /package.Service/Method}. */
  static String service(String path) {
    int slash = path.indexOf('/', 1);
    return slash < 0 ? path.substring(Math.min(1, path.length())) : path.substring(1, slash);
  }

  /** The peer's IP address, from Pekko HTTP's remote-address attribute. */
  private static String peer(HttpRequest request) {
    return request.getAttribute(AttributeKeys.remoteAddress)
        .flatMap(RemoteAddress::getAddress)
        .map(InetAddress::getHostAddress)
        .orElse("unknown");
  }

  /**
   * A gRPC answer without messages ("trailers-only"): HTTP 200 whose headers carry the status,
   * its message percent-encoded as the gRPC protocol asks.
   */
  static HttpResponse refusal(Status.Code code, String message) {
    return HttpResponse.create()
        .withStatus(StatusCodes.OK)
        .addHeader(RawHeader.create("grpc-status", Integer.toString(code.value())))
        .addHeader(RawHeader.create("grpc-message", percentEncode(message)))
        .withEntity(HttpEntities.create(GRPC, new byte[0]));
  }

  private static String percentEncode(String message) {
    StringBuilder out = new StringBuilder();
    for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
      if (b >= 0x20 && b < 0x7f && b != '%') {
        out.append((char) b);
      } else {
        out.append('%').append(String.format("%02X", b & 0xff));
      }
    }
    return out.toString();
  }
}
