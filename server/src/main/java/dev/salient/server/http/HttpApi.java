package dev.salient.server.http;

import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.VideoFrame;
import dev.salient.server.auth.TokenFile;
import dev.salient.server.grpc.Authentication;
import dev.salient.server.grpc.ExplainerService;
import dev.salient.server.grpc.GrpcErrors;
import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.HttpsConnectionContext;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.ServerBuilder;
import org.apache.pekko.http.javadsl.model.AttributeKeys;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpMethod;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.ws.BinaryMessage;
import org.apache.pekko.http.javadsl.model.ws.Message;
import org.apache.pekko.http.javadsl.model.ws.TextMessage;
import org.apache.pekko.http.javadsl.model.ws.WebSocketUpgrade;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.SystemMaterializer;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/JSON face of the Explainer service, for browsers and for callers without gRPC: the
 * KServe V1 data plane ({@code GET /v1/models/{m}}, {@code :predict}, {@code :explain}), the
 * explain stream as Server-Sent Events, live video over a WebSocket, and the web viewer's
 * files. Every request goes through {@link ExplainerService}, so validation, scheduling and the
 * failures' messages are gRPC's; {@link #httpStatus} maps the codes (docs/http.md).
 */
public final class HttpApi {
  /** Where the viewer's files are, on the classpath and under the HTTP root. */
  static final String VIEWER = "/viewer/";
  private static final String MODELS = "/v1/models";
  private static final String VIDEO = "/v1/video";
  private static final String WEB_RESOURCES = "web/";
  private static final Duration BODY_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration SSE_KEEP_ALIVE = Duration.ofSeconds(15);
  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
  private static final ContentType EVENT_STREAM = MediaTypes.TEXT_EVENT_STREAM.toContentType();

  private final ExplainerService explainer;
  private final Optional<TokenFile> tokens;
  private final Materializer materializer;
  /** The viewer's files, read from the jar once each. */
  private final Map<String, Optional<byte[]>> files = new ConcurrentHashMap<>();

  /** The API over {@code explainer}; with {@code tokens}, /v1 calls need a bearer token. */
  public HttpApi(ExplainerService explainer, Optional<TokenFile> tokens, ActorSystem<?> system) {
    this.explainer = explainer;
    this.tokens = tokens;
    this.materializer = SystemMaterializer.get(system).materializer();
  }

  /**
   * Serves {@code api} as {@code settings} say, with TLS when {@code https} is given. A port set
   * on purpose that cannot be bound fails; auto's 8080 taken is a warning and no HTTP API.
   */
  public static Optional<ServerBinding> bind(ActorSystem<?> system, HttpSettings settings,
      HttpApi api, Optional<HttpsConnectionContext> https) {
    if (!settings.enabled()) {
      return Optional.empty();
    }
    // HTTP/1.1 only, as KServe V1 clients, Server-Sent Events and WebSockets expect: the
    // application's preview.enable-http2 is for the gRPC port, and with it here a client's h2c
    // upgrade offer (Java's HttpClient sends one) moved it to HTTP/2 connections that the
    // server now and then closed under the next request (EOF in HttpApiTest).
    ServerSettings http1 = ServerSettings.create(ConfigFactory.parseString(
        "pekko.http.server.preview.enable-http2 = off").withFallback(system.settings().config()));
    ServerBuilder builder = Http.get(system).newServerAt(settings.host(), settings.port())
        .withSettings(http1);
    if (https.isPresent()) {
      builder = builder.enableHttps(https.get());
    }
    try {
      ServerBinding binding = builder.bind(api::handle).toCompletableFuture().join();
      log.info("HTTP API and web viewer at {}://{}:{}{}", https.isPresent() ? "https" : "http",
          binding.localAddress().getHostString(), binding.localAddress().getPort(), VIEWER);
      return Optional.of(binding);
    } catch (RuntimeException e) {
      String cause = e.getCause() == null ? e.getMessage() : e.getCause().getMessage();
      if (settings.required()) {
        throw new IllegalStateException("cannot serve the HTTP API on " + settings.host() + ":"
            + settings.port() + " (" + cause + "); choose another --http-port, or off", e);
      }
      log.warn("no HTTP API or web viewer: port {} on {} is taken ({}); set --http-port "
          + "(salient.http.port) to another port, or off", settings.port(), settings.host(),
          cause);
      return Optional.empty();
    }
  }

  /** Answers one request; never fails the stage (failures become JSON error responses). */
  public CompletionStage<HttpResponse> handle(HttpRequest request) {
    String path = request.getUri().path();
    try {
      if (path.equals("/") || path.equals("/viewer")) {
        request.discardEntityBytes(materializer);
        return done(HttpResponse.create().withStatus(StatusCodes.FOUND)
            .addHeader(Location.create(VIEWER)));
      }
      if (path.startsWith(VIEWER)) {
        request.discardEntityBytes(materializer);
        requireMethod(request, HttpMethods.GET);
        return done(file(path.substring(VIEWER.length())));
      }
      if (path.equals(VIDEO)) {
        return done(video(request));
      }
      if (path.equals(MODELS) || path.startsWith(MODELS + "/")) {
        return models(request, path.substring(MODELS.length()))
            .exceptionally(HttpApi::failure);
      }
      request.discardEntityBytes(materializer);
      throw new SalientException.NotFound("no such path " + path + ": the API is GET "
          + MODELS + ", GET " + MODELS + "/{model}, POST " + MODELS + "/{model}:predict, POST "
          + MODELS + "/{model}:explain, the WebSocket " + VIDEO + ", and the viewer at "
          + VIEWER);
    } catch (RuntimeException e) {
      return done(failure(e));
    }
  }

  private CompletionStage<HttpResponse> models(HttpRequest request, String rest) {
    Metadata caller = caller(request, false);
    if (rest.isEmpty() || rest.equals("/")) {
      request.discardEntityBytes(materializer);
      requireMethod(request, HttpMethods.GET);
      return explainer.listModels(ListModelsRequest.getDefaultInstance(), caller)
          .thenApply(list -> {
            List<String> names = list.getModelsList().stream().map(ModelInfo::getName).toList();
            StringBuilder out = new StringBuilder("{\"models\":[");
            for (int i = 0; i < names.size(); i++) {
              out.append(i == 0 ? "" : ",").append(quote(names.get(i)));
            }
            return json(StatusCodes.OK, out.append("]}").toString());
          });
    }
    String target = rest.substring(1);
    int colon = target.lastIndexOf(':');
    String model = colon < 0 ? target : target.substring(0, colon);
    String verb = colon < 0 ? "" : target.substring(colon + 1);
    switch (verb) {
      case "" -> {
        request.discardEntityBytes(materializer);
        requireMethod(request, HttpMethods.GET);
        return explainer.describeModel(DescribeModelRequest.newBuilder().setModel(model).build(),
            caller).thenApply(d -> json(StatusCodes.OK, "{\"name\":" + quote(d.getModel()
                .getName()) + ",\"ready\":true,\"model\":" + JsonRequests.print(d.getModel())
                + "}"));
      }
      case "predict" -> {
        requireMethod(request, HttpMethods.POST);
        return body(request).thenCompose(body -> predict(model, body, caller));
      }
      case "explain" -> {
        requireMethod(request, HttpMethods.POST);
        boolean stream = wantsStream(request);
        return body(request).thenCompose(body -> {
          ExplainRequest in = JsonRequests.explainRequest(model, body);
          Source<ExplainEvent, NotUsed> events = explainer.explain(in, caller);
          return stream ? eventStream(events) : explained(events);
        });
      }
      default -> {
        request.discardEntityBytes(materializer);
        throw new SalientException.NotFound("unknown verb :" + verb + " (" + MODELS + "/{model}"
            + " takes :predict and :explain)");
      }
    }
  }

  private CompletionStage<HttpResponse> predict(String model, String body, Metadata caller) {
    JsonRequests.Predict in = JsonRequests.predict(body);
    List<CompletableFuture<ClassifyResponse>> answers = new ArrayList<>();
    for (Image image : in.images()) {
      answers.add(explainer.classify(ClassifyRequest.newBuilder().setModel(model).setImage(image)
          .setTopK(in.topK()).build(), caller).toCompletableFuture());
    }
    return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).thenApply(all -> {
      StringBuilder out = new StringBuilder("{\"predictions\":[");
      for (int i = 0; i < answers.size(); i++) {
        out.append(i == 0 ? "" : ",").append(JsonRequests.print(answers.get(i).join()));
      }
      return json(StatusCodes.OK, out.append("]}").toString());
    });
  }

  /** The started and result events of an explanation as one JSON object. */
  private CompletionStage<HttpResponse> explained(Source<ExplainEvent, NotUsed> events) {
    return events.filter(e -> !e.hasFrame())
        .runWith(Sink.seq(), materializer)
        .thenApply(list -> {
          StringBuilder out = new StringBuilder("{");
          for (ExplainEvent e : list) {
            out.append(out.length() == 1 ? "" : ",");
            if (e.hasStarted()) {
              out.append("\"started\":").append(JsonRequests.print(e.getStarted()));
            } else {
              out.append("\"result\":").append(JsonRequests.print(e.getResult()));
            }
          }
          return json(StatusCodes.OK, out.append("}").toString());
        });
  }

  /**
   * Every event as a Server-Sent Event ({@code event: started|frame|result}, the data one line
   * of JSON of the whole ExplainEvent); a failure before the first event is an error response,
   * one after it an {@code event: error} that ends the stream.
   */
  private CompletionStage<HttpResponse> eventStream(Source<ExplainEvent, NotUsed> events) {
    return events.prefixAndTail(1).runWith(Sink.head(), materializer).thenApply(split -> {
      Source<ByteString, NotUsed> body = Source.from(split.first()).concat(split.second())
          .map(e -> sse(e.getEventCase().name().toLowerCase(Locale.ROOT), JsonRequests.print(e)))
          .recover(new PFBuilder<Throwable, ByteString>()
              .matchAny(error -> sse("error", errorJson(GrpcErrors.status(error))))
              .build())
          .keepAlive(SSE_KEEP_ALIVE, () -> ByteString.fromString(": keep-alive\n\n"));
      return HttpResponse.create().withEntity(HttpEntities.createChunked(EVENT_STREAM, body))
          .addHeader(RawHeader.create("Cache-Control", "no-cache"));
    });
  }

  private static ByteString sse(String event, String data) {
    return ByteString.fromString("event: " + event + "\ndata: " + data + "\n\n");
  }

  private static boolean wantsStream(HttpRequest request) {
    return request.getUri().query().get("stream").map(v -> v.equals("true") || v.equals("sse"))
        .orElse(false)
        || request.getHeader("accept").map(h -> h.value().contains("text/event-stream"))
            .orElse(false);
  }

  /**
   * A live-video session over a WebSocket: the first message is the session (JSON of
   * VideoSession), each later one a frame (binary: PNG or JPEG bytes), numbered 1, 2, ... in
   * order; each answer is a text message with a FrameExplanation's JSON, and a failure a last
   * text message {@code {"code": ..., "error": ...}} before the server closes the socket.
   */
  private HttpResponse video(HttpRequest request) {
    Optional<WebSocketUpgrade> upgrade = request.getAttribute(AttributeKeys.webSocketUpgrade);
    if (upgrade.isEmpty()) {
      request.discardEntityBytes(materializer);
      throw new SalientException.InvalidArgument(VIDEO + " is a WebSocket: open it with an "
          + "upgrade request (new WebSocket(\"ws://host:port" + VIDEO + "\"))");
    }
    Metadata caller = caller(request, true);
    AtomicLong sequence = new AtomicLong();
    Flow<Message, VideoFrame, NotUsed> frames = Flow.<Message>create()
        .mapAsync(1, message -> frame(message, sequence));
    Flow<Message, Message, NotUsed> flow = frames.prefixAndTail(0)
        .flatMapConcat(split -> explainer.explainVideo(split.second(), caller))
        .<Message>map(answer -> TextMessage.create(JsonRequests.print(answer)))
        .recover(new PFBuilder<Throwable, Message>()
            .matchAny(error -> TextMessage.create(errorJson(GrpcErrors.status(error))))
            .build());
    return upgrade.get().handleMessagesWith(flow);
  }

  private CompletionStage<VideoFrame> frame(Message message, AtomicLong sequence) {
    if (message.isText()) {
      if (sequence.getAndIncrement() != 0) {
        throw new SalientException.InvalidArgument("only the first message of " + VIDEO
            + " is text (the session); send frames as binary messages of PNG or JPEG bytes");
      }
      return message.asTextMessage().toStrict(BODY_TIMEOUT.toMillis(), materializer)
          .thenApply(text -> VideoFrame.newBuilder()
              .setSession(JsonRequests.videoSession(text.getStrictText())).build());
    }
    long n = sequence.getAndIncrement();
    if (n == 0) {
      throw new SalientException.InvalidArgument("the first message of " + VIDEO + " must be "
          + "the session as JSON text, e.g. {\"method\":\"vanilla\"}");
    }
    BinaryMessage binary = message.asBinaryMessage();
    return binary.toStrict(BODY_TIMEOUT.toMillis(), materializer)
        .thenApply(strict -> VideoFrame.newBuilder().setSequence(n)
            .setCaptureTimeUs(System.currentTimeMillis() * 1000)
            .setImage(Image.newBuilder().setEncoded(com.google.protobuf.ByteString.copyFrom(
                strict.getStrictData().toArray())))
            .build());
  }

  /**
   * The caller as the gRPC services see it; a WebSocket may carry its token as the
   * {@code access_token} query parameter, which is all a browser's WebSocket can send.
   */
  private Metadata caller(HttpRequest request, boolean webSocket) {
    Optional<String> authorization = request.getHeader("authorization").map(h -> h.value());
    if (authorization.isEmpty() && webSocket) {
      authorization = request.getUri().query().get("access_token").map(t -> "Bearer " + t);
    }
    try {
      return Authentication.httpCaller(request, authorization, tokens);
    } catch (SalientException.Unauthenticated e) {
      request.discardEntityBytes(materializer);
      throw e;
    }
  }

  private CompletionStage<String> body(HttpRequest request) {
    return request.entity().toStrict(BODY_TIMEOUT.toMillis(), materializer)
        .thenApply(strict -> strict.getData().utf8String());
  }

  private static void requireMethod(HttpRequest request, HttpMethod method) {
    if (!request.method().equals(method)) {
      throw new MethodNotAllowed(request.getUri().path() + " answers " + method.name()
          + " only, not " + request.method().name());
    }
  }

  private HttpResponse file(String name) {
    String resource = name.isEmpty() ? "index.html" : name;
    Optional<byte[]> bytes = resource.contains("..") || resource.startsWith("/")
        ? Optional.empty() : files.computeIfAbsent(resource, HttpApi::readResource);
    if (bytes.isEmpty()) {
      throw new SalientException.NotFound("the viewer has no file " + name);
    }
    return HttpResponse.create().withEntity(HttpEntities.create(contentType(resource),
        bytes.get()));
  }

  private static Optional<byte[]> readResource(String name) {
    try (InputStream in = HttpApi.class.getClassLoader()
        .getResourceAsStream(WEB_RESOURCES + name)) {
      return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the viewer's " + name, e);
    }
  }

  private static ContentType contentType(String name) {
    String ext = name.substring(name.lastIndexOf('.') + 1).toLowerCase(Locale.ROOT);
    return switch (ext) {
      case "html" -> MediaTypes.TEXT_HTML.toContentType(HttpCharsets.UTF_8);
      case "js" -> MediaTypes.APPLICATION_JAVASCRIPT.toContentType(HttpCharsets.UTF_8);
      case "css" -> MediaTypes.TEXT_CSS.toContentType(HttpCharsets.UTF_8);
      case "json" -> ContentTypes.APPLICATION_JSON;
      case "png" -> MediaTypes.IMAGE_PNG.toContentType();
      case "svg" -> MediaTypes.IMAGE_SVG_XML.toContentType();
      default -> ContentTypes.APPLICATION_OCTET_STREAM;
    };
  }

  /** The HTTP status for a gRPC status code (the table in docs/http.md). */
  static StatusCode httpStatus(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, OUT_OF_RANGE, FAILED_PRECONDITION -> StatusCodes.BAD_REQUEST;
      case NOT_FOUND -> StatusCodes.NOT_FOUND;
      case UNAUTHENTICATED -> StatusCodes.UNAUTHORIZED;
      case PERMISSION_DENIED -> StatusCodes.FORBIDDEN;
      case RESOURCE_EXHAUSTED -> StatusCodes.TOO_MANY_REQUESTS;
      case UNAVAILABLE -> StatusCodes.SERVICE_UNAVAILABLE;
      case DEADLINE_EXCEEDED -> StatusCodes.GATEWAY_TIMEOUT;
      case CANCELLED -> StatusCodes.custom(499, "Client Closed Request", "", false, true);
      case UNIMPLEMENTED -> StatusCodes.NOT_IMPLEMENTED;
      default -> StatusCodes.INTERNAL_SERVER_ERROR;
    };
  }

  private static HttpResponse failure(Throwable error) {
    Throwable e = error;
    while (e instanceof java.util.concurrent.CompletionException && e.getCause() != null) {
      e = e.getCause();
    }
    if (e instanceof MethodNotAllowed m) {
      return json(StatusCodes.METHOD_NOT_ALLOWED, "{\"code\":\"METHOD_NOT_ALLOWED\","
          + "\"error\":" + quote(m.getMessage()) + "}");
    }
    Status status = GrpcErrors.status(e);
    HttpResponse response = json(httpStatus(status.getCode()), errorJson(status));
    return status.getCode() == Status.Code.UNAUTHENTICATED
        ? response.addHeader(RawHeader.create("WWW-Authenticate", "Bearer")) : response;
  }

  /** {@code {"code": "INVALID_ARGUMENT", "error": "<the gRPC status's message>"}}. */
  static String errorJson(Status status) {
    return "{\"code\":" + quote(status.getCode().name()) + ",\"error\":"
        + quote(status.getDescription() == null ? status.getCode().name()
            : status.getDescription()) + "}";
  }

  private static HttpResponse json(StatusCode status, String body) {
    return HttpResponse.create().withStatus(status)
        .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, body));
  }

  private static CompletionStage<HttpResponse> done(HttpResponse response) {
    return CompletableFuture.completedFuture(response);
  }

  private static String quote(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }

  /** A path asked with a method it does not answer. */
  private static final class MethodNotAllowed extends RuntimeException {
    MethodNotAllowed(String message) {
      super(message);
    }
  }
}
